// Shared by the node unit tests of the page's scripts (tests/web/*.test.mjs); not a test.
//
// The page's scripts are classic scripts (web/js/*.js), not modules: they declare top-level
// names that the next script uses. Here they run the same way, in order, in one fresh `vm`
// context that holds only what a test passes in: no window, no document, no localStorage.
// A script that touched the page while loading would fail here.
//
// Run: node --test tests/web/   (node 18 and newer; no dependencies)

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'web');

export function readWeb(relative) {
  return readFileSync(path.join(WEB, relative), 'utf8');
}

/**
 * Runs web/js/@names in order in a new context whose globals are @globals only. Returns
 * {context, get}: get('NAME') evaluates in the context, which also reaches the scripts' const
 * and class declarations (they are not properties of the global object, functions are).
 */
export function load(names, globals = {}) {
  const context = vm.createContext({ ...globals });
  for (const name of names) {
    const file = path.join(WEB, 'js', name);
    vm.runInContext(readFileSync(file, 'utf8'), context, { filename: file });
  }
  return { context, get: (expression) => vm.runInContext(expression, context) };
}

/**
 * @value from the context as plain data of this realm: objects made in another context have
 * other prototypes, which assert.deepStrictEqual would count as a difference.
 */
export function plain(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** What a page opened at @href has in `location`. */
export function fakeLocation(href) {
  const url = new URL(href);
  return { href: url.href, protocol: url.protocol, host: url.host, hash: url.hash };
}
