/**
 * What Renovate would pick up from this repository, for test/renovate.test.ts: the regex custom
 * managers are applied exactly as renovate.json writes them (Renovate compiles each matchString
 * with the `g` flag only), and the built-in managers this project relies on are reduced to what
 * they extract here: dockerfile (`FROM` images), docker-compose (`image:` without a variable),
 * kustomize (`images:` entries with a `newTag`). Positions are character offsets of the version
 * in the file, so a pin counts as covered only where a manager's match holds that very text.
 */
import { parse } from 'yaml'

/** One version a manager would update: where, what and by which manager. */
export interface ManagedPin {
  readonly file: string
  /** Offset of currentValue in the file's text. */
  readonly start: number
  readonly depName: string
  readonly currentValue: string
  readonly depType?: string
  readonly manager: string
}

interface CustomManager {
  customType: string
  description?: string
  managerFilePatterns: string[]
  matchStrings: string[]
  depNameTemplate?: string
  depTypeTemplate?: string
}

/** renovate.json's shape, as far as these tests read it. */
export interface RenovateConfig {
  customManagers: CustomManager[]
  packageRules: Array<Record<string, unknown>>
}

/** A `/regex/` file pattern as Renovate writes it (the only form used here). */
function filePattern (pattern: string): RegExp {
  const m = /^\/(.*)\/$/.exec(pattern)
  if (m === null) throw new Error(`file pattern ${pattern} is not a /regex/`)
  return new RegExp(m[1]!)
}

/** Every match of every regex custom manager, in every file whose path it selects. */
export function regexManagerPins (config: RenovateConfig, files: Map<string, string>): ManagedPin[] {
  const out: ManagedPin[] = []
  config.customManagers.forEach((cm, i) => {
    const patterns = cm.managerFilePatterns.map(filePattern)
    for (const [file, text] of files) {
      if (!patterns.some((p) => p.test(file))) continue
      for (const source of cm.matchStrings) {
        for (const m of text.matchAll(new RegExp(source, 'gd'))) {
          const [start] = m.indices!.groups!['currentValue']!
          out.push({ file, start, depName: m.groups!['depName'] ?? cm.depNameTemplate ?? '', currentValue: m.groups!['currentValue']!, ...(cm.depTypeTemplate !== undefined ? { depType: cm.depTypeTemplate } : {}), manager: `regex #${i} (${cm.description?.split(':')[0] ?? ''})` })
        }
      }
    }
  })
  return out
}

/** `name[:tag]` at `offset` in `file` -> the pin of its tag, if it has one. */
function imagePin (file: string, ref: string, offset: number, manager: string): ManagedPin[] {
  const colon = ref.lastIndexOf(':')
  if (colon <= ref.lastIndexOf('/')) return []
  return [{ file, start: offset + colon + 1, depName: ref.slice(0, colon), currentValue: ref.slice(colon + 1), manager }]
}

/** The dockerfile manager: the image of each `FROM` (Renovate's default file pattern). */
export function dockerfilePins (files: Map<string, string>): ManagedPin[] {
  return [...files].filter(([f]) => /(^|\/|\.)([Dd]ocker|[Cc]ontainer)file$/.test(f))
    .flatMap(([file, text]) => [...text.matchAll(/^FROM[ \t]+(?:--platform=\S+[ \t]+)?(\S+)/gmd)]
      .flatMap((m) => imagePin(file, m[1]!, m.indices![1]![0], 'dockerfile')))
}

/** The docker-compose manager: plain `image:` values; those holding `${...}` it skips. */
export function composePins (files: Map<string, string>): ManagedPin[] {
  return [...files].filter(([f]) => /(^|\/)(?:docker-)?compose[^/]*\.ya?ml$/.test(f))
    .flatMap(([file, text]) => [...text.matchAll(/^[ \t]+image:[ \t]*["']?([^"'\s#]+)/gmd)]
      .filter((m) => !m[1]!.includes('${'))
      .flatMap((m) => imagePin(file, m[1]!, m.indices![1]![0], 'docker-compose')))
}

/** The kustomize manager: `images:` entries with a `newTag` (depName: newName, else name). */
export function kustomizePins (files: Map<string, string>): ManagedPin[] {
  return [...files].filter(([f]) => /(^|\/)kustomization\.ya?ml$/.test(f)).flatMap(([file, text]) => {
    const images = ((parse(text) as { images?: Array<{ name: string, newName?: string, newTag?: string }> }).images ?? [])
    let from = 0
    return images.filter((i) => i.newTag !== undefined).map((i) => {
      const m = new RegExp(`newTag:[ \\t]*["']?(${i.newTag!.replace(/\./g, '\\.')})`, 'd').exec(text.slice(from))!
      const start = from + m.indices![1]![0]
      from = start
      return { file, start, depName: i.newName ?? i.name, currentValue: i.newTag!, manager: 'kustomize' }
    })
  })
}

/** Everything the managers above would update. */
export function allManagedPins (config: RenovateConfig, files: Map<string, string>): ManagedPin[] {
  return [...regexManagerPins(config, files), ...dockerfilePins(files), ...composePins(files), ...kustomizePins(files)]
}
