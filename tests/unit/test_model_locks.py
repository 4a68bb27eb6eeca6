"""A long generation holds the model only during each forward pass, so other sessions get in between tokens."""

import threading


def test_generation_lets_other_sessions_in_between_tokens(tiny_gpt2):
    prompt = tiny_gpt2.encode("Once upon a time")
    reference = tiny_gpt2.generate(prompt, 4)
    paused, resume, seen = threading.Event(), threading.Event(), {}

    def on_step(i):  # the generating thread waits here after its first token
        if i == 1:
            paused.set()
            resume.wait(60)

    worker = threading.Thread(target=lambda: seen.update(gen=tiny_gpt2.generate(prompt, 4, on_step=on_step)))
    worker.start()
    try:
        assert paused.wait(60)
        # Another session can tokenize and run its own forward pass while the generation is mid-way.
        # The scheduler's thread may be inside its next step (it holds forward_lock for one step only): another
        # session gets in once that step ends, not after the whole generation, which is paused here.
        for lock in (tiny_gpt2.lock, tiny_gpt2.forward_lock):
            assert lock.acquire(timeout=30), "a lock is held between tokens"
            lock.release()
        other = tiny_gpt2.encode("A different prompt")
        assert tiny_gpt2.logits(other.ids).shape == (tiny_gpt2.vocab_size,)
    finally:
        resume.set()
        worker.join(60)
    # ... and the interrupted generation is unchanged by it.
    assert [s.chosen.id for s in seen["gen"].steps] == [s.chosen.id for s in reference.steps]


def test_every_pass_of_a_shared_model_runs_under_its_own_lock(tiny_gpt2):
    """logits, look_inside and token_shift's base_ranks all go through the model's forward(), which holds its lock:
    no caller takes the lock itself, and none runs the bare model beside it."""
    from lib.models.token_shift import base_ranks

    held = []

    def lock_is_held_elsewhere() -> bool:  # asked from another thread: an RLock is re-entrant in its owner
        result = []
        probe = threading.Thread(target=lambda: result.append(tiny_gpt2.forward_lock.acquire(blocking=False)))
        probe.start()
        probe.join(10)
        if result[0]:
            tiny_gpt2.forward_lock.release()
        return not result[0]

    handle = tiny_gpt2.model.register_forward_pre_hook(lambda *_: held.append(lock_is_held_elsewhere()))
    try:
        ids = tiny_gpt2.encode("Once upon a time").ids
        tiny_gpt2.logits(ids)
        inside = tiny_gpt2.look_inside(ids)
        base_ranks(tiny_gpt2, ids[:2], ids[2:])
    finally:
        handle.remove()
    assert held == [True, True, True]
    assert inside.attentions.shape[:2] == (tiny_gpt2.model.config.n_layer, tiny_gpt2.model.config.n_head)
