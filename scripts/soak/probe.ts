// What the soak reads each interval: process RSS from /proc, BullMQ queue counts, store counts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Handoff } from '../../src/modules/handoff/index.js';
import { ScoreEntry } from '../../src/modules/scoring/index.js';
import { getQueue, QueueName } from '../../src/queues/index.js';
import type { Managed } from '../faults/servers.js';

/** VmRSS of a process in MB (NaN when it is gone) */
export function rssMb(pid: number | undefined): number {
  if (!pid) return NaN;
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Pss of a process in MB (its private pages plus its share of shared ones: the PostgreSQL
 * processes' shared buffers count once in their sum), VmRSS where smaps_rollup cannot be read
 */
export function pssMb(pid: number): number {
  try {
    const kb = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1];
    if (kb) return Number(kb) / 1024;
  } catch {
    /* not readable: fall back */
  }
  return rssMb(pid);
}

const pidFile = (file: string) => {
  try {
    return Number(readFileSync(file, 'utf8').split('\n')[0]!.trim()) || undefined;
  } catch {
    return undefined;
  }
};

/** the postmaster (first line of postmaster.pid) and every process whose parent it is */
function postgresPids(dataDir: string): number[] {
  const master = pidFile(path.join(dataDir, 'postmaster.pid'));
  if (!master) return [];
  const pids = [master];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      // the parent pid is the 2nd field after the `(comm)`, which may hold spaces
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === master) pids.push(Number(d));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** RSS in MB of the run's processes: the supervised ones, FerretDB, PostgreSQL (Pss summed), Redis */
export function processRss(serversDir: string, procs: Record<string, Managed>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, m] of Object.entries(procs)) out[name] = rssMb(m.child?.pid);
  out.ferretdb = rssMb(pidFile(path.join(serversDir, 'ferretdb-pg/ferretdb.pid')));
  out.postgres = postgresPids(path.join(serversDir, 'postgres/data')).reduce(
    (s, p) => s + (pssMb(p) || 0),
    0,
  );
  out.redis = rssMb(pidFile(path.join(serversDir, 'redis/redis.pid')));
  return out;
}

/**
 * each queue's jobs waiting + active + delayed + prioritized, the backlog (all but delayed) and
 * the completed and failed jobs kept
 */
export async function queueDepths(): Promise<{
  queues: Record<string, number>;
  depth: number;
  backlog: number;
  retained: number;
}> {
  const queues: Record<string, number> = {};
  let depth = 0;
  let backlog = 0;
  let retained = 0;
  for (const name of Object.values(QueueName)) {
    const c = await getQueue(name).getJobCounts(
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'completed',
      'failed',
    );
    retained += (c.completed ?? 0) + (c.failed ?? 0);
    const n = (c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
    queues[name] = n;
    depth += n;
    backlog += n - (c.delayed ?? 0);
  }
  return { queues, depth, backlog, retained };
}

/** ledger entries (events scored) and handoffs (conversions) stored so far */
export async function storeCounts(): Promise<{ scored: number; conversions: number }> {
  const [scored, conversions] = await Promise.all([
    ScoreEntry.countDocuments({}),
    Handoff.countDocuments({}),
  ]);
  return { scored, conversions };
}
