import { spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** One kind of request the load generator sends. */
export type Operation = 'put' | 'get' | 'hits' | 'ready' | 'cpu'

/** What to send: an open-loop, fixed-rate, bounded load. */
export interface LoadPlan {
  /** Base URL of the service, e.g. http://127.0.0.1:1234. */
  url: string
  /** Requests started per second. */
  rate: number
  /**
   * How long to keep starting requests, in ms; with {@link RunningLoad.stop} the longest the
   * load may run if nobody stops it.
   */
  durationMs: number
  /** At most this many requests in flight; a tick that finds the cap reached skips (counted). */
  maxInFlight: number
  /** A request unanswered after this many ms is aborted and recorded as `timeout`. */
  timeoutMs: number
  /** Operations, used round-robin. */
  mix: Operation[]
  /** Item keys are `${keyPrefix}-${n}`: unique per request, so every acknowledged write is distinct. */
  keyPrefix: string
}

/** One request and its outcome. Times are Date.now() values, durations in ms. */
export interface Sample {
  op: Operation
  /** Route template the request hits (the `route` tag the service should send). */
  route: string
  method: 'GET' | 'POST'
  key?: string
  value?: string
  start: number
  end: number
  /** HTTP status, or 0 when no response arrived (see `error`). */
  status: number
  /** Response body (truncated to 300 characters). */
  body: string
  error?: string
}

/** The generator's report. */
export interface LoadResult {
  samples: Sample[]
  /** Ticks that found `maxInFlight` requests pending and started nothing. */
  skipped: number
}

const ROUTES: Record<Operation, { method: 'GET' | 'POST', route: string }> = {
  put: { method: 'POST', route: '/items' },
  get: { method: 'GET', route: '/items/:key' },
  hits: { method: 'GET', route: '/' },
  ready: { method: 'GET', route: '/health/ready' },
  cpu: { method: 'GET', route: '/demo/cpu' }
}

/** PBKDF2 iterations of a `cpu` request: the demo route's maximum, tens of ms of event-loop time. */
export const CPU_ITERATIONS = 200000

/**
 * Runs the plan in this process (the child side of {@link runLoadInChild}). Every request is
 * recorded with its start and end time and status; a `put` carries a fresh unique key and a
 * random value, a `get` reads the most recently acknowledged key (`<prefix>-never` before the
 * first acknowledgement, a 404), `hits` is `GET /`, `ready` the readiness probe and `cpu` a
 * CPU-bound `/demo/cpu` request ({@link CPU_ITERATIONS}).
 */
export async function generate (plan: LoadPlan, hooks: GenerateHooks = {}): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: plan.maxInFlight })
  const samples: Sample[] = []
  let inFlight = 0
  let skipped = 0
  let n = 0
  let lastAcked = `${plan.keyPrefix}-never`
  const base = new URL(plan.url)

  const one = (op: Operation): Promise<void> => {
    const i = n++
    const { method, route } = ROUTES[op]
    let path = '/'
    let payload: string | undefined
    const sample: Sample = { op, route, method, start: Date.now(), end: 0, status: 0, body: '' }
    if (op === 'put') {
      sample.key = `${plan.keyPrefix}-${i}`
      sample.value = `v${i}-${Math.random().toString(36).slice(2)}`
      path = '/items'
      payload = JSON.stringify({ key: sample.key, value: sample.value })
    } else if (op === 'get') {
      sample.key = lastAcked
      path = `/items/${lastAcked}`
    } else if (op === 'ready') {
      path = '/health/ready'
    } else if (op === 'cpu') {
      path = `/demo/cpu?iterations=${CPU_ITERATIONS}`
    }
    samples.push(sample)
    inFlight++
    return new Promise((resolve) => {
      const finish = (status: number, body: string, error?: string): void => {
        if (sample.end !== 0) return
        sample.end = Date.now()
        sample.status = status
        sample.body = body.slice(0, 300)
        if (error !== undefined) sample.error = error
        if (op === 'put' && status >= 200 && status < 300 && sample.key !== undefined) lastAcked = sample.key
        inFlight--
        hooks.onSample?.(sample)
        resolve()
      }
      const req = request({
        host: base.hostname,
        port: base.port,
        method,
        path,
        agent,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        signal: AbortSignal.timeout(plan.timeoutMs)
      }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => { body += chunk })
        res.on('end', () => finish(res.statusCode ?? 0, body))
        res.on('error', (err) => finish(0, body, err.message))
      })
      req.on('error', (err) => finish(0, '', err.name === 'AbortError' ? 'timeout' : err.message))
      req.end(payload)
    })
  }

  const pending: Array<Promise<void>> = []
  const started = Date.now()
  const tickMs = 10
  let due = 0
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = Date.now() - started
      if (elapsed >= plan.durationMs || hooks.stopped?.() === true) {
        clearInterval(timer)
        resolve()
        return
      }
      // Catch up to the plan's rate, so a late tick does not lower it.
      const target = Math.floor((elapsed * plan.rate) / 1000)
      while (due < target) {
        due++
        if (inFlight >= plan.maxInFlight) {
          skipped++
          continue
        }
        pending.push(one(plan.mix[due % plan.mix.length] as Operation))
      }
    }, tickMs)
  })
  await Promise.all(pending)
  agent.destroy()
  return { samples, skipped }
}

const SELF = fileURLToPath(import.meta.url)

/** Callbacks {@link generate} calls while it runs. */
export interface GenerateHooks {
  /** Called with each sample as its answer (or error) arrives. */
  onSample?: (sample: Sample) => void
  /** Asked on every tick: true ends the load early (requests in flight still finish). */
  stopped?: () => boolean
}

/** A load running in a child process, observable while it runs. */
export interface RunningLoad {
  /** The child's report, once every request it started has finished. */
  result: Promise<LoadResult>
  /** The samples answered so far, in the order their answers arrived. */
  answered: () => readonly Sample[]
  /**
   * Resolves with the samples answered so far once `check` holds for them. Rejects (naming
   * `what` and the count so far) when `timeoutMs` passes first, or when the load ends first;
   * the load is then stopped.
   */
  until: (what: string, check: (answered: readonly Sample[]) => boolean, timeoutMs?: number) => Promise<readonly Sample[]>
  /** Starts no further request; {@link result} resolves once those in flight finish. */
  stop: () => void
}

/** How long {@link RunningLoad.until} waits by default: generous for a loaded 2-core machine. */
export const UNTIL_TIMEOUT_MS = 60_000

/**
 * Runs {@link generate} in a second Node process (so its CPU and sockets are not the test's
 * nor the service's). The child runs this file with the current process's Node arguments
 * (tap's TypeScript loader) and reports each answered request over an IPC channel, so a test
 * acts on what the load has done (the Nth acknowledged write, the first failures) rather than
 * on how long ago it was started. The final report rejects when the child fails or prints none.
 */
export function startLoadInChild (plan: LoadPlan): RunningLoad {
  const child = spawn(process.execPath, [...process.execArgv, SELF, JSON.stringify(plan)], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  const answered: Sample[] = []
  const waiters = new Set<() => void>()
  let ended = false
  let out = ''
  let err = ''
  child.stdout?.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr?.setEncoding('utf8').on('data', (c: string) => { err += c })
  child.on('message', (sample: Sample) => {
    answered.push(sample)
    for (const wake of waiters) wake()
  })
  const result = new Promise<LoadResult>((resolve, reject) => {
    // 'close', not 'exit': the report may still be in the pipe when the process has exited.
    child.once('close', (code) => {
      ended = true
      for (const wake of waiters) wake()
      if (code !== 0) return reject(new Error(`load generator exited ${code}: ${err}`))
      try {
        resolve(JSON.parse(out) as LoadResult)
      } catch (e) {
        reject(new Error(`load generator printed no report: ${String(e)}\n${err}`))
      }
    })
  })
  // A caller that only awaits until() must not see an unhandled rejection from the report.
  result.catch(() => {})
  const stop = (): void => {
    if (child.connected) child.send('stop')
  }
  const until = (what: string, check: (answered: readonly Sample[]) => boolean, timeoutMs = UNTIL_TIMEOUT_MS): Promise<readonly Sample[]> =>
    new Promise((resolve, reject) => {
      const done = (error?: Error): void => {
        clearTimeout(timer)
        waiters.delete(wake)
        if (error === undefined) return resolve(answered)
        // The test fails here: stop the load rather than let it run out its durationMs.
        stop()
        reject(error)
      }
      const wake = (): void => {
        if (check(answered)) done()
        else if (ended) done(new Error(`the load ended before ${what} (${answered.length} requests answered)`))
      }
      const timer = setTimeout(() => done(new Error(`no ${what} within ${timeoutMs} ms (${answered.length} requests answered)`)), timeoutMs)
      waiters.add(wake)
      wake()
    })
  return { result, answered: () => answered, until, stop }
}

/** {@link startLoadInChild} for a load that runs its whole `durationMs`: resolves with its report. */
export function runLoadInChild (plan: LoadPlan): Promise<LoadResult> {
  return startLoadInChild(plan).result
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan
  let stopped = false
  process.on('message', (message) => { if (message === 'stop') stopped = true })
  const result = await generate(plan, {
    onSample: (sample) => { if (process.connected) process.send?.(sample) },
    stopped: () => stopped
  })
  process.stdout.write(JSON.stringify(result))
  // The IPC channel keeps this process alive until it is closed.
  if (process.connected) process.disconnect()
}
