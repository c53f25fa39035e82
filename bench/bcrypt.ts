/** bcryptjs cost on this machine, to choose BCRYPT_COST (login pays one compare). */
import bcrypt from 'bcryptjs';
import { timings } from './stats.js';
import { addNote, type Row } from './report.js';

export async function benchBcrypt(): Promise<Row[]> {
  const rows: Row[] = [];
  const median: Record<number, number> = {};
  for (const cost of [10, 11, 12]) {
    const hash = await bcrypt.hash('correct horse battery staple', cost);
    const result = await timings(() => bcrypt.compare('correct horse battery staple', hash), cost === 12 ? 3 : 5);
    median[cost] = result.median;
    rows.push({ section: 'login', name: `bcryptjs compare, cost ${cost}`, unit: 'ms', result });
  }
  const perSecond = (cost: number) => (1000 / median[cost]!).toFixed(1);
  addNote(`BCRYPT_COST defaults to 11 (src/core/environment.ts): a compare takes ${median[11]!.toFixed(0)} ms here, against ${median[10]!.toFixed(0)} ms at 10 and ${median[12]!.toFixed(0)} ms at 12. `
    + `11 costs a password guesser twice what 10 (OWASP's floor for bcrypt) does while a sign-in still waits well under a quarter of a second; `
    + `12 would double that wait and halve what one core can check, to ${perSecond(12)} logins/s (${perSecond(11)} at 11), which also lets a burst of wrong passwords occupy a function for longer.`);
  return rows;
}
