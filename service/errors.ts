/**
 * Errors the routes and the error handler agree on.
 */

/**
 * A dependency (Redis) failed or did not answer within the command timeout. The error handler
 * answers 503 with a generic message; the cause is logged, never sent.
 */
export class DependencyUnavailableError extends Error {
  readonly statusCode = 503
  constructor (readonly dependency: string, readonly cause: unknown) {
    super(`${dependency} unavailable`)
    this.name = 'DependencyUnavailableError'
  }
}
