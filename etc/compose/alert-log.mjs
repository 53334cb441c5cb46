// The compose stack's stand-in for a pager and a ticket queue: Alertmanager's webhook receivers
// (etc/alertmanager/alertmanager.yml, http://alert-log:5001/<receiver>) post here, and every alert
// of every notification becomes one line on stdout, so `docker-compose logs -f alert-log` shows
// what would have paged or made a ticket, when, and when it resolved. Replace the receivers with
// real ones to get notified for real (README "Alert notifications").
//
// Input: Alertmanager's webhook payload (version 4): { receiver, status, alerts: [{ status,
// labels, annotations, startsAt, endsAt }] }. Output line: `<receiver> <FIRING|RESOLVED>
// <alertname> (<severity>, service=<service>) since <startsAt>: <summary>`. Answers 200 to a
// notification, 400 to a body that is not one (Alertmanager then logs the failure), 413 past
// 1 MiB; GET /health answers 200 for the healthcheck. Port: ALERT_LOG_PORT (default 5001).
// Runs in the service's image (node, no dependencies); plain JavaScript, since it is run as is.
import { createServer } from 'node:http'

const port = Number(process.env.ALERT_LOG_PORT ?? 5001)
const LIMIT_BYTES = 1024 * 1024

/** One line per alert of a notification; a payload that is not one throws. */
function lines (notification) {
  if (notification === null || typeof notification !== 'object' || !Array.isArray(notification.alerts)) {
    throw new Error('not an Alertmanager notification (no alerts array)')
  }
  return notification.alerts.map((alert) => {
    const labels = alert.labels ?? {}
    const summary = alert.annotations?.summary ?? ''
    return `${notification.receiver ?? '?'} ${String(alert.status ?? notification.status).toUpperCase()} ` +
      `${labels.alertname ?? '?'} (${labels.severity ?? 'no severity'}, service=${labels.service ?? '?'}) ` +
      `since ${alert.startsAt ?? '?'}${summary === '' ? '' : `: ${summary}`}`
  })
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return res.end('ok\n')
  if (req.method !== 'POST') return res.writeHead(405, { allow: 'POST' }).end()
  const chunks = []
  let size = 0
  req.on('data', (chunk) => {
    size += chunk.length
    if (size > LIMIT_BYTES) {
      res.writeHead(413).end()
      req.destroy()
    } else {
      chunks.push(chunk)
    }
  })
  req.on('end', () => {
    try {
      for (const line of lines(JSON.parse(Buffer.concat(chunks).toString('utf8')))) console.log(line)
      res.end()
    } catch (err) {
      console.error(`alert-log: rejected a POST to ${req.url}: ${err.message}`)
      res.writeHead(400).end()
    }
  })
})

server.listen(port, '0.0.0.0', () => console.log(`alert-log: listening on :${port} for Alertmanager's webhooks`))
// PID 1 in its container: stop promptly on `docker-compose stop`.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)))
