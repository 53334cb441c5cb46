/**
 * Writes etc/statsd/mapping.yml from the metric catalogue (see service/metrics/mapping.ts).
 * Run with `npm run generate`.
 */
import { writeFileSync } from 'node:fs'
import { renderMapping } from '../service/metrics/mapping.js'

const target = new URL('../etc/statsd/mapping.yml', import.meta.url)
writeFileSync(target, renderMapping())
process.stdout.write(`wrote ${target.pathname}\n`)
