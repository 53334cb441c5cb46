/**
 * Writes etc/dashboards/fastify-red.json from the dashboard code (`npm run dashboards`).
 * Run it after changing anything under scripts/dashboards/ or the metric catalogue, then commit
 * the JSON: Grafana provisions the file, and a test fails while it differs from the code.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { DASHBOARD_FILE, renderDashboard } from './fastify-red.js'

const target = fileURLToPath(new URL(`../../${DASHBOARD_FILE}`, import.meta.url))
writeFileSync(target, renderDashboard())
process.stdout.write(`wrote ${DASHBOARD_FILE}\n`)
