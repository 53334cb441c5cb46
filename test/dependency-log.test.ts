import { mock } from 'node:test'
import t from 'tap'
import pino from 'pino'
import { DependencyLog } from '../service/dependency-log.js'
import { DependencyUnavailableError } from '../service/errors.js'
import { logCapture, type LogLine } from './helpers/log-capture.js'

const MSG = 'dependency unavailable: answering 503'

t.test('first 503 logged at once, the rest of a window as one line with its count, quiet once the outage ends', async (t) => {
  // The window is a timer: mocked, so the test moves the clock instead of waiting for it.
  mock.timers.enable({ apis: ['setTimeout'] })
  t.teardown(() => mock.timers.reset())
  const capture = logCapture()
  // A real pino logger writing to the capture stream (sync, so a line is there when warn returns).
  const log = new DependencyLog(pino({ level: 'info' }, capture.stream), 100)
  const warns = (): LogLine[] => capture.lines().filter((l) => l.msg === MSG)
  const error = new DependencyUnavailableError('redis', new Error('Connection is closed.'))

  for (let i = 0; i < 7; i++) log.record(error)
  t.equal(warns().length, 1, 'one line for the first 503, before the window ends')
  t.match(warns()[0], { level: 40, dependency: 'redis', cause: 'Connection is closed.', count: 1, intervalMs: 100 })
  mock.timers.tick(99)
  t.equal(warns().length, 1, 'nothing more while the window is open')
  mock.timers.tick(1)
  t.equal(warns().length, 2, 'a line when the window ends')
  t.match(warns()[1], { level: 40, count: 6 }, 'the other six, in one line when the window ends')
  mock.timers.tick(350)
  t.equal(warns().length, 2, 'no line for a window without 503s')

  log.record(error)
  t.equal(warns().length, 3, 'a new outage is logged at once')
  t.equal(warns()[2].count, 1)
  log.record(error)
  log.close()
  t.equal(warns().length, 4, 'close() logs what the open window counted')
  t.equal(warns()[3].count, 1)
  t.equal(warns().reduce((sum, l) => sum + Number(l.count), 0), 9, 'the counts add up to the 503s recorded')
  t.notOk(capture.lines().some((l) => 'stack' in l || 'err' in l), 'no stack, no serialized error')
})
