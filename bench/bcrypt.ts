/** bcryptjs cost on this machine, to choose BCRYPT_COST (login pays one compare). */
import bcrypt from 'bcryptjs';
import { timings } from './stats.js';
import type { Row } from './report.js';

export async function benchBcrypt(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const cost of [10, 11, 12]) {
    const hash = await bcrypt.hash('correct horse battery staple', cost);
    const result = await timings(() => bcrypt.compare('correct horse battery staple', hash), cost === 12 ? 3 : 5);
    rows.push({ section: 'login', name: `bcryptjs compare, cost ${cost}`, unit: 'ms', result });
  }
  return rows;
}
