/**
 * A progress line on stderr: redrawn in place on a terminal (at most 10 times a second), and
 * written as plain lines every few seconds when stderr is a file or a pipe (logs, CI).
 */
export function createProgress(stream: NodeJS.WriteStream, label: string, totalBytes: number) {
  const started = Date.now();
  const tty = stream.isTTY === true;
  let last = tty ? 0 : started;
  const mb = (n: number) => (n / 1_048_576).toFixed(1);
  const render = (p: { bytes: number; rows: number; created: number; merged: number; rejected: number }) => {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    const ratio = totalBytes > 0 ? Math.min(p.bytes / totalBytes, 1) : 1;
    const width = 24;
    const filled = Math.round(ratio * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    return (
      `${label} ${bar} ${(ratio * 100).toFixed(0).padStart(3)}% ${mb(p.bytes)}/${mb(totalBytes)} MB ` +
      `${p.rows} rows ${Math.round(p.rows / secs)} rows/s  created ${p.created} merged ${p.merged} rejected ${p.rejected}`
    );
  };
  return {
    update(p: Parameters<typeof render>[0]) {
      const now = Date.now();
      if (now - last < (tty ? 100 : 5000)) return;
      last = now;
      stream.write(tty ? `\r\x1b[2K${render(p)}` : `${render(p)}\n`);
    },
    done(p: Parameters<typeof render>[0]) {
      stream.write(tty ? `\r\x1b[2K${render(p)}\n` : `${render(p)}\n`);
    },
  };
}
