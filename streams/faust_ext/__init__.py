"""Every Faust extension of salespulse, and the only code that reaches into Faust's internals.

faust-streaming is pinned (0.15.3). What this package overrides, calls or reads beyond Faust's
documented API is listed as data in ``hooks`` and checked against the installed Faust by
``tests/unit/streams/faust_ext/test_faust_ext_hooks.py``, which also fails when a module outside
this package touches a private attribute of Faust, mode or aiokafka.

- ``checkpointing_app``: the worker's app class and its consumer, where both protocols plug in;
- ``checkpointed_offsets``: the checkpoint inside each commit, the seek to the checkpoint;
- ``ordered_delivery``: the fence that keeps each partition in offset order across a seek;
- ``inline_delivery``: Faust's fetch loop, handing each record to its agent without new tasks
  unless the hand-over has to wait;
- ``direct_send``: the agents' ready bytes straight to the app's producer;
- ``introspect``: rebalances, the assignment, the peers and the lag, as the business code asks;
- ``web_server``, ``worker_logging``: Faust's web server and worker as a service needs them.

**Commit protocol** (docs/GUARANTEES.md, "Design" 1). At every Faust commit (the 2.8 s timer,
a revocation, the worker's stop):

1. Faust's ``Consumer._commit_offsets`` gets the offsets of the input the agents are done with
   (``take_events`` acks a batch once its handler returned) and keeps the assigned partitions'.
2. It awaits ``app.producer.flush()``: every record the agents sent (``direct_send``: in
   aiokafka's accumulator once its send returned) is acknowledged, acks=all. A flush that fails
   raises: no checkpoint, no commit, the input is replayed.
3. It awaits ``_commit(offsets)``, overridden by ``CheckpointedOffsets``: ``StateEngine.checkpoint``
   writes, per assigned partition, one atomic RocksDB batch of the values changed since the last
   checkpoint and the next offset of each input, then starts the partition's snapshot if one is
   due (keyed by the consumer generation, which fences a zombie's).
4. Faust's own ``_commit`` commits the offsets to Kafka. That commit is advisory (lag, the
   catch-up gate, readiness): no partition resumes from it.

A crash between 2 and 3 replays input whose outputs are already on Kafka (the day values' applied
offsets absorb them); between 3 and 4 it loses nothing.

**Rebalance protocol** (docs/GUARANTEES.md, "Design" 3 and 5):

1. Revocation: Faust stops the flow, waits for the agents to finish what they hold and commits
   it (the commit protocol, while the partitions are still assigned), then flushes the producer.
2. Assignment: with no tables, Faust's recovery resumes the stream partitions and awaits
   ``Consumer.perform_seek``.
3. ``SeekFencedDelivery.perform_seek`` fences the fetch loop: ``getmany`` stops delivering the
   batch it holds (fetched again later), and the seek waits for the record being handed to an
   agent (10 s at most).
4. ``seek_to_committed``, from the bottom: aiokafka seeks the partitions with a group offset above
   0; ``SeekFencedDelivery`` rewinds the stream partitions nobody committed to 0;
   ``CheckpointedOffsets`` restores each partition the store has no checkpoint of from its
   latest snapshot (``StateEngine.take_over``), seeks every stream partition to its checkpoint's
   offsets (``StateEngine.resume_offsets``, which keeps the group's offsets as the replay target)
   with ``Consumer._seek``, and returns those offsets.
5. Faust's ``perform_seek`` records them as read and committed, so its bookkeeping follows the
   real position. The fence's epoch moves on: a batch whose fetch overlapped the seek is dropped
   and the seek repeated.
6. Faust resumes the flow and ends the rebalance (``rebalancing`` off, ``actives_ready`` on). The
   worker is ready (``Ownership.is_ready``) once its apply agent has replayed each owned
   ``kpi-deltas`` partition to the replay target (``StateEngine.replayed``), and has caught up
   with the log if it must (``streams.catch_up``).

So each input partition is delivered again, in offset order, from exactly the offsets its state
was checkpointed with.
"""
