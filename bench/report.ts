import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Summary } from './stats.js';

export interface Row {
  section: string;
  name: string;
  unit: string;
  result: Summary;
  /** The same-run baseline this row is judged against, if any. */
  baseline?: { name: string; result: Summary };
  /** result.median / baseline.median */
  ratio?: number;
  goal?: string;
  met?: boolean;
}

const notes: string[] = [];

/** A sentence for the notes under the table: a choice made from the numbers, or what a section did not measure. */
export function addNote(note: string): void {
  notes.push(note);
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(3);
}

/** Writes BENCHMARKS.md (for people) and bench/results.json (for comparing runs). */
export function writeReport(rows: Row[]): void {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}`;
  const date = new Date().toISOString();
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${date}: Node ${process.version}, ${machine}.`,
    'Each figure is the median of its samples, with the 10th–90th percentile spread; ratios compare against a baseline measured in the same run.',
    '',
    '| section | measure | median | spread (p10–p90) | unit | baseline (median) | ratio | goal | met |',
    '| --- | --- | ---: | --- | --- | --- | ---: | --- | --- |',
    ...rows.map((r) =>
      `| ${r.section} | ${r.name} | ${fmt(r.result.median)} | ${fmt(r.result.p10)}–${fmt(r.result.p90)} | ${r.unit} | ${r.baseline ? `${r.baseline.name}: ${fmt(r.baseline.result.median)}` : ''} | ${r.ratio === undefined ? '' : r.ratio.toFixed(3)} | ${r.goal ?? ''} | ${r.met === undefined ? '' : r.met ? 'yes' : '**no**'} |`),
    '',
    ...(notes.length ? ['## Notes', '', ...notes.map((n) => `- ${n}`), ''] : []),
  ];
  writeFileSync('BENCHMARKS.md', lines.join('\n'));
  writeFileSync('bench/results.json', `${JSON.stringify({ date, node: process.version, machine, rows, notes }, null, 2)}\n`);
}
