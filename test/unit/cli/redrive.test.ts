import { describe, expect, it } from 'vitest';
import { dlqDelete, dlqList, moveByHand, redrive, redriveMessage } from '../../../cli/operations';
import { FakeSqs, fakeTarget } from './fake-target';

/**
 * The hand redrive (endpoints without StartMessageMoveTask) moves what the DLQ held before anything
 * was sent back, once: a message parked again while the redrive runs — a file that always fails —
 * stays in the DLQ. The consumer here parks every message the moment it arrives, the worst case,
 * and stamps it with a server clock behind the operator's, which a timestamp comparison would
 * take for a message older than the redrive.
 */
describe('redrive by hand', () => {
  const setup = (parkedBefore: number) => {
    const sqs = new FakeSqs();
    const target = fakeTarget(sqs);
    const q = target.resources.completion;
    for (let i = 0; i < parkedBefore; i++) sqs.put(q.dlqUrl, `file-${i}`);
    // Always failing, parked at once, with SentTimestamp a minute in the past (clock skew).
    sqs.onSend = (url, body) => {
      if (url === q.url) {
        sqs.queues.set(url, []);
        sqs.put(q.dlqUrl, body, Date.now() - 60_000);
      }
    };
    return { sqs, target, q };
  };

  it('moves each message that was in the DLQ exactly once; those parked again during it stay parked', async () => {
    const { sqs, target, q } = setup(25);
    const out = await moveByHand(target, q);
    expect(out.moved).toBe(25);
    expect(
      sqs.sends
        .filter((s) => s.url === q.url)
        .map((s) => s.body)
        .sort(),
    ).toEqual(Array.from({ length: 25 }, (_, i) => `file-${i}`).sort());
    expect(sqs.bodies(q.dlqUrl).sort(), 'every file parked again, once').toEqual(
      Array.from({ length: 25 }, (_, i) => `file-${i}`).sort(),
    );
    expect(out.left).toBe(25);
  });

  it('a second redrive sends each file round once more, no more', async () => {
    const { sqs, target, q } = setup(3);
    await moveByHand(target, q);
    await moveByHand(target, q);
    expect(sqs.sends.filter((s) => s.url === q.url)).toHaveLength(6);
    expect(sqs.bodies(q.dlqUrl)).toHaveLength(3);
  });

  it('falls back to moving by hand when the endpoint lacks StartMessageMoveTask, and says so', async () => {
    const { target } = setup(2);
    const [result] = await redrive(target, 'completion');
    expect(result).toMatchObject({ queue: 'completion', moved: 2, left: 2 });
    expect(result?.fallback).toMatch(/no StartMessageMoveTask/);
  });

  it('moves, lists and deletes single messages by id, leaving the others visible', async () => {
    const sqs = new FakeSqs();
    const target = fakeTarget(sqs);
    const q = target.resources.intake[0];
    if (!q) throw new Error('no intake queue');
    const body = (key: string) => JSON.stringify({ Records: [{ s3: { object: { key } } }] });
    const a = sqs.put(q.dlqUrl, body('cleartax/sales/a.csv'));
    const b = sqs.put(q.dlqUrl, body('cleartax/sales/b+c.csv'));
    sqs.put(q.dlqUrl, body('cleartax/sales/d.csv'));

    expect((await dlqList(target, q.routeId)).map((m) => m.subject)).toEqual([
      'cleartax/sales/a.csv',
      'cleartax/sales/b c.csv',
      'cleartax/sales/d.csv',
    ]);
    const moved = await redriveMessage(target, q.routeId, b);
    expect(moved.subject).toBe('cleartax/sales/b c.csv');
    expect(sqs.bodies(q.url)).toEqual([body('cleartax/sales/b+c.csv')]);
    await dlqDelete(target, q.routeId, a);
    expect((await dlqList(target, q.routeId)).map((m) => m.subject)).toEqual(['cleartax/sales/d.csv']);
    await expect(dlqDelete(target, q.routeId, 'm-404')).rejects.toThrow(/no message m-404/);
    await expect(dlqList(target, 'no-such-queue')).rejects.toThrow(/no queue "no-such-queue"/);
  });
});
