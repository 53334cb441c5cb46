import t from 'tap'
import { formatMs, MAX_TIMER_MS } from '../../packages/fastify-statsd-red/src/datagram-writer.js'

/** What formatMs replaced, and must keep writing byte for byte: V8's shortest text of the value rounded to the microsecond. */
const reference = (ms: number): string => String(Math.round(ms * 1000) / 1000)

t.test('formatMs writes what String(Math.round(ms * 1000) / 1000) writes', async (t) => {
  const values: number[] = []
  // Every microsecond of the first 3 ms and every thousandth around the rounding edges.
  for (let us = 0; us <= 3000; us++) values.push(us / 1000, us / 1000 + 0.0004999, us / 1000 + 0.0005, us / 1000 - 0.0005)
  // Every magnitude up to the largest value, each with fractions that stress the rounding.
  for (let whole = 1; whole <= MAX_TIMER_MS; whole *= 7) {
    for (const frac of [0, 0.0001, 0.0004999, 0.0005, 0.001, 0.0125, 0.1, 0.25, 0.5, 0.9994999, 0.9995, 0.999]) values.push(whole + frac)
  }
  // A fixed pseudo-random sample (a linear congruential generator: the same values every run).
  let seed = 12345
  for (let i = 0; i < 20000; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648
    values.push((seed / 2147483648) ** 3 * MAX_TIMER_MS)
  }
  values.push(MAX_TIMER_MS, MAX_TIMER_MS - 0.0005, 1e-9, 0.0004)
  const wrong = values.filter((v) => v >= 0 && formatMs(v) !== reference(v)).map((v) => `${v}: ${formatMs(v)} != ${reference(v)}`)
  t.same(wrong, [], `${values.length} values`)
  t.equal(formatMs(0), '0')
  t.equal(formatMs(12), '12')
  t.equal(formatMs(0.25), '0.25')
  t.equal(formatMs(0.004), '0.004')
  t.equal(formatMs(0.0005), '0.001', 'half a microsecond rounds up, as Math.round does')
  t.equal(formatMs(1.9996), '2')
  t.equal(formatMs(MAX_TIMER_MS), '999999999')
})
