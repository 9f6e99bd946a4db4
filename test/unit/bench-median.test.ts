import { describe, expect, it } from 'vitest';
import {
  formatLike,
  median,
  medianOutput,
  medianTable,
  medianText,
  parseBlocks,
  parseTables,
} from '../../bench/median.js';
import { asMarkdown, END, markers, START, withRecordsReplaced, withSection } from '../../bench/record.js';

const run = (rate: string, p50: string, ratio: string, answers: string, note: string) => `
intake: 5s per target, node v20.20.2

| leads stored | target | req/s | p50 ms | vs echo |
|---:|---|---:|---:|---:|
| 0 | bare echo | 1,${rate} | ${p50} | 100% |
| 100,000 | leadflow | 25 | 12.5 | ${ratio} |

answers ${answers}
requirement at 100,000 leads (${note}): HOLDS
`;

describe('bench median: tables', () => {
  it('parses markdown tables with any separator style, and the lines around them', () => {
    const text =
      '{"level":40,"time":1,"msg":"mongodb disconnected"}\ntitle\n| a | b |\n|------|-----------:|\n| 1 | x |\n| 2 | y |\nafter\n';
    const blocks = parseBlocks(text);
    expect(blocks.map((b) => b.kind)).toEqual(['line', 'table', 'line']);
    const [t] = parseTables(text);
    expect(t!.header).toEqual(['a', 'b']);
    expect(t!.rows).toEqual([
      ['1', 'x'],
      ['2', 'y'],
    ]);
    expect(parseTables('| not | a table |\nno separator\n')).toEqual([]);
  });

  it('takes the median of each numeric cell, formatted like the first run, others from the first', () => {
    const tables = [
      run('200', '10.0', '18%', 'x', 'a'),
      run('100', '30.5', '20%', 'y', 'b'),
      run('300', '12.25', '5%', 'z', 'c'),
    ].map((o) => parseTables(o)[0]!);
    const m = medianTable(tables);
    expect(m.rows[0]).toEqual(['0', 'bare echo', '1,200', '12.3', '100%']);
    expect(m.rows[1]).toEqual(['100,000', 'leadflow', '25', '12.5', '18%']);
  });

  it('keeps a cell whose shape differs between runs from the first run', () => {
    expect(medianText(['201×950', '201×900 500×2'])).toBeUndefined();
    const t = (c: string) => ({ header: ['a'], separator: '|---|', rows: [[c]] });
    expect(medianTable([t('201×950'), t('201×900 500×2')]).rows[0]).toEqual(['201×950']);
    expect(medianTable([t('7/s'), t('9/s'), t('8/s')]).rows[0]).toEqual(['8/s']);
    expect(medianTable([t('1.70×'), t('1.50×')]).rows[0]).toEqual(['1.60×']);
  });
});

describe('bench median: numbers and lines', () => {
  it('computes the median of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it('formats like the sample: decimals and thousands separators', () => {
    expect(formatLike(1234.567, '1,000.0')).toBe('1,234.6');
    expect(formatLike(1234.567, '999')).toBe('1235');
    expect(formatLike(0.5, '1.25')).toBe('0.50');
  });

  it('takes the median of the numbers of a result line, and lists lines whose shape differs', () => {
    expect(medianText(['p50 100 ms, p99 900 ms', 'p50 120 ms, p99 700 ms', 'p50 90 ms, p99 800 ms'])).toBe(
      'p50 100 ms, p99 800 ms',
    );
    // a number equal in every run is kept verbatim (no leading zeros lost)
    expect(medianText(['on 2026-12-01: 5', 'on 2026-12-01: 7'])).toBe('on 2026-12-01: 6');
    const out = medianOutput([
      run('200', '10.0', '18%', 'x', 'a'),
      run('100', '30.5', '20%', 'x', 'b words'),
    ]);
    expect(out).toContain('| 0 | bare echo | 1,150 | 20.3 | 100% |');
    expect(out).toContain('answers x');
    expect(out).toContain('run 1: requirement at 100,000 leads (a): HOLDS');
    expect(out).toContain('run 2: requirement at 100,000 leads (b words): HOLDS');
  });

  it('falls back to the first run when the runs printed different tables', () => {
    const out = medianOutput(['| a |\n|---|\n| 1 |\n', '| a |\n|---|\n| 1 |\n| 2 |\n']);
    expect(out).toContain('printed different results');
    expect(out).toContain('| 1 |');
    expect(medianOutput(['only one\n'])).toBe('only one');
  });
});

describe('bench record: the generated section of BENCHMARKS.md', () => {
  it('replaces what is between the markers and keeps the rest', () => {
    const doc = `# B\n\nintro\n\n${START}\nold figures\n${END}\n\n## History\nkept\n`;
    const out = withSection(doc, `${START}\nnew figures\n${END}`);
    expect(out).toBe(`# B\n\nintro\n\n${START}\nnew figures\n${END}\n\n## History\nkept\n`);
  });

  it('inserts the section before the first heading when there are no markers yet', () => {
    const out = withSection('# B\n\nintro\n\n## Old\nx\n', `${START}\nnew\n${END}`);
    expect(out).toBe(`# B\n\nintro\n\n${START}\nnew\n${END}\n\n## Old\nx\n`);
  });

  it('keeps the --full figures in a section of their own, after the default one, untouched by either', () => {
    const full = markers('full');
    const doc = `# B\n\n${START}\ndefault\n${END}\n\n## History\n`;
    const withFull = withSection(doc, `${full.start}\nbig\n${full.end}`, 'full');
    expect(withFull).toBe(
      `# B\n\n${START}\ndefault\n${END}\n\n${full.start}\nbig\n${full.end}\n\n## History\n`,
    );
    const again = withSection(withFull, `${START}\ndefault 2\n${END}`);
    expect(again).toContain(`${full.start}\nbig\n${full.end}`);
    expect(again).toContain('default 2');
    expect(withSection(again, `${full.start}\nbigger\n${full.end}`, 'full')).not.toContain('\nbig\n');
  });

  it('with --only, replaces just those benches and notes the re-run, keeping the other figures', () => {
    const doc = `# B\n\n${START}\n## Figures\n\n| | |\n|---|---|\n| took | 9 min |\n\n### intake: x\n\nold intake\n\n### reports: y\n\nold reports\n${END}\n\n## History\n`;
    const rec = {
      name: 'reports',
      what: 'y',
      command: 'cmd',
      runs: 1,
      seconds: [5],
      ok: true,
      output: 'new reports\n',
    };
    const out = withRecordsReplaced(doc, [rec], {
      date: 'D',
      command: 'npm run bench -- --only reports --write',
      load: '1',
    })!;
    expect(out).toContain('old intake');
    expect(out).not.toContain('old reports');
    expect(out).toContain('new reports');
    expect(out).toContain('| re-run | reports: D, `npm run bench -- --only reports --write`');
    expect(out.indexOf('new reports')).toBeLessThan(out.indexOf(END));
    expect(out).toContain('## History');
    expect(withRecordsReplaced('# B\n', [rec], { date: 'D', command: 'c', load: '1' })).toBeUndefined();
  });

  it('renders tables as they are and the lines between them as text blocks', () => {
    const md = asMarkdown('header line\n\n| a |\n|---|\n| 1 |\n\nafter 1\nafter 2\n');
    expect(md).toEqual([
      '```text',
      'header line',
      '```',
      '',
      '| a |',
      '|---|',
      '| 1 |',
      '',
      '```text',
      'after 1',
      'after 2',
      '```',
    ]);
  });
});
