/**
 * Writes etc/kubernetes/base/generated/ (see generated.ts), removing files the generator does not write
 * (a deleted dashboard). Called by scripts/generate.ts (`npm run generate`).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { GENERATED_DIR, generatedFiles } from './generated.js'
import { ROOT } from './sources.js'

/** Writes the generated Component and returns its directory's path. */
export function writeGenerated (): string {
  const dir = new URL(GENERATED_DIR, ROOT)
  mkdirSync(dir, { recursive: true })
  const files = generatedFiles()
  for (const stale of readdirSync(dir).filter((f) => !(f in files))) rmSync(new URL(stale, dir))
  for (const [name, content] of Object.entries(files)) writeFileSync(new URL(name, dir), content)
  return dir.pathname
}
