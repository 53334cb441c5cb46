/** How long {@link until} waits by default: generous for a loaded 2-core machine. */
export const WAIT_TIMEOUT_MS = 30_000

/**
 * Resolves once `check()` holds, looking every `intervalMs`; rejects naming `what` (and what
 * `detail()` says) after `timeoutMs`. A deadline on an observed condition, never a guess of how
 * long something takes: on a fast machine it returns at once, on a slow one it waits longer.
 */
export async function until (what: string, check: () => boolean, opts: { timeoutMs?: number, intervalMs?: number, detail?: () => string } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? WAIT_TIMEOUT_MS
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms${opts.detail === undefined ? '' : `: ${opts.detail()}`}`)
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 5))
  }
}
