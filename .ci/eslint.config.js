// ESLint flat config (neostandard, the Fastify ecosystem's style). It lives in .ci/ to keep the
// repository's top level to the files a newcomer needs; package.json's lint script points here.
import neostandard from 'neostandard'

export default [
  { ignores: ['node_modules/**', 'dist/**', '.run/**', '.tap/**', 'coverage/**', 'etc/dashboards/**', 'packages/*/dist/**'] },
  ...neostandard({ ts: true })
]
