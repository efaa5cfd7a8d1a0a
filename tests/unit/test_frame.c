#include <pthread.h>

#include "check.h"
#include "clock.h"
#include "frame.h"

static void test_new_frame_has_one_reference_and_headroom(void)
{
	struct frame *f = frame_create(1000);
	CHECK(f != NULL);
	CHECK(atomic_load(&f->refs) == 1);
	CHECK(f->data == f->buf + FRAME_HEADROOM);
	CHECK(f->cap == 1000);
	CHECK(f->len == 0);
	f->data[999] = 0xd9; /* the whole capacity is writable (ASan checks) */
	f->data[-FRAME_HEADROOM] = 0;
	frame_unref(f);
}

static void test_ref_returns_same_frame_and_counts(void)
{
	struct frame *f = frame_create(16);
	CHECK(frame_ref(f) == f);
	CHECK(atomic_load(&f->refs) == 2);
	frame_unref(f);
	CHECK(atomic_load(&f->refs) == 1);
	frame_unref(f); /* freed here: ASan reports a leak otherwise */
}

static void test_unref_and_ref_accept_null(void)
{
	frame_unref(NULL);
	CHECK(frame_ref(NULL) == NULL);
}

static void *churn(void *arg)
{
	struct frame *f = arg;
	for (int i = 0; i < 100000; i++)
		frame_unref(frame_ref(f));
	return NULL;
}

static void test_refcount_is_exact_across_threads(void)
{
	struct frame *f = frame_create(16);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, f);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK(atomic_load(&f->refs) == 1);
	frame_unref(f);
}

static void test_last_holder_on_another_thread_frees(void)
{
	struct frame *f = frame_create(64);
	frame_ref(f);
	frame_unref(f); /* creator lets go first ... */
	pthread_t t;
	pthread_create(&t, NULL, (void *(*)(void *))(void (*)(void))frame_unref, f);
	pthread_join(t, NULL); /* ... the other thread frees; no leak, no double free */
	CHECK(1);
}

static void test_clocks_move_forward(void)
{
	int64_t a = clock_mono_us(), b = clock_mono_us();
	CHECK(b >= a);
	CHECK(clock_wall_us() > 1600000000LL * 1000000);
}

int main(void)
{
	RUN(test_new_frame_has_one_reference_and_headroom);
	RUN(test_ref_returns_same_frame_and_counts);
	RUN(test_unref_and_ref_accept_null);
	RUN(test_refcount_is_exact_across_threads);
	RUN(test_last_holder_on_another_thread_frees);
	RUN(test_clocks_move_forward);
	return CHECK_DONE();
}
