import t from 'tap'
import { METRICS, seriesNames } from '../../service/metrics/catalogue.js'

t.test('histograms expose bucket, sum and count series', async (t) => {
  t.same(seriesNames(METRICS.httpRequestDuration), [
    'http_request_duration_seconds_bucket',
    'http_request_duration_seconds_sum',
    'http_request_duration_seconds_count'
  ])
  t.same(seriesNames(METRICS.httpRequests), ['http_requests_total'])
})
