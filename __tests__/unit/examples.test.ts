/**
 * The example workflows (`examples/*.yml`), the workflow blocks of README.md and the project's own
 * workflows (`.github/workflows/*.yml`), parsed with GitHub's own workflow parser
 * (`@actions/workflow-parser`, the schema the Actions service validates against) and checked
 * against action.yml: only declared inputs, the required ones present, known commands, declared
 * outputs, and a concurrency group that is never cancelled wherever a workflow can change traffic.
 * Every action any of them uses is pinned at the one major of ACTION_MAJORS.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from '@jest/globals'
import yaml from 'js-yaml'
import {
  NoOperationTraceWriter,
  convertWorkflowTemplate,
  isBasicExpression,
  isBoolean,
  isLiteral,
  isMapping,
  isSequence,
  isString,
  parseWorkflow,
  type WorkflowTemplate
} from '@actions/workflow-parser'

type Token = Parameters<typeof isMapping>[0]

const repo = fileURLToPath(new URL('../..', import.meta.url))
const read = (path: string): string => readFileSync(join(repo, path), 'utf8')

/** `uses:` of a step that runs this action: at any ref, or from the checkout (`./`). */
const ACTION = /^(?:istio-bluegreen\/istio-bluegreen@\S+|\.\/?)$/

/**
 * The one major of every action that a workflow of this project (examples, README, the project's
 * own) may use. Bump an action here and in every workflow at once. Each major runs on node24:
 * actions/checkout v5+, setup-node v5+, upload-artifact v6+, docker/setup-buildx-action v4,
 * docker/login-action v4, docker/build-push-action v7, helm/kind-action v1.14 (their action.yml).
 */
export const ACTION_MAJORS: Readonly<Record<string, string>> = {
  'actions/checkout': 'v7',
  'actions/setup-node': 'v7',
  'actions/upload-artifact': 'v7',
  'docker/setup-buildx-action': 'v4',
  'docker/login-action': 'v4',
  'docker/build-push-action': 'v7',
  'helm/kind-action': 'v1',
  'istio-bluegreen/istio-bluegreen': 'v1'
}

/** Every `uses: owner/name@ref` of a text, local actions (`./`) and `docker://` images left out. */
export function usesOf(text: string): { action: string; ref: string }[] {
  return [...text.matchAll(/^[ \t]*(?:-[ \t]+)?uses:[ \t]*['"]?([^\s'"#]+)/gm)]
    .map((m) => m[1] ?? '')
    .filter((uses) => !uses.startsWith('./') && uses !== '.' && !uses.startsWith('docker://'))
    .map((uses) => {
      const at = uses.lastIndexOf('@')
      return at < 0
        ? { action: uses, ref: '' }
        : { action: uses.slice(0, at), ref: uses.slice(at + 1) }
    })
}

/** Problems of the `uses:` of one text against ACTION_MAJORS, as readable sentences. */
export function actionRefProblems(
  name: string,
  text: string,
  majors: Readonly<Record<string, string>> = ACTION_MAJORS
): string[] {
  return usesOf(text).flatMap(({ action, ref }) => {
    const major = majors[action]
    if (major === undefined) {
      return [`${name}: ${action}@${ref} is not in ACTION_MAJORS; add it there with its major`]
    }
    if (ref === '') return [`${name}: ${action} has no @ref; pin it at @${major}`]
    return ref === major ? [] : [`${name}: ${action}@${ref}, but ACTION_MAJORS says @${major}`]
  })
}

/** Commands that change traffic or the rollout record, and so must never run side by side. */
const MUTATING = new Set(['deploy', 'promote', 'resume', 'rollback', 'abort'])

/** What action.yml promises, as the checks need it. */
export interface Contract {
  inputs: Set<string>
  required: string[]
  outputs: Set<string>
  /** The commands the `command` input's description names. */
  commands: Set<string>
  defaultCommand: string
  defaultSteps: string
}

interface ActionYaml {
  inputs: Record<string, { description?: string; required?: boolean; default?: string }>
  outputs: Record<string, unknown>
}

/** Reads action.yml; the commands are the backquoted words of `command`'s description that are not input names. */
export function loadContract(text: string): Contract {
  const action = yaml.load(text) as ActionYaml
  const inputs = new Set(Object.keys(action.inputs))
  const described = action.inputs.command?.description ?? ''
  const quoted = [...described.matchAll(/`([a-z-]+)`/g)].map((m) => m[1] ?? '')
  return {
    inputs,
    required: Object.entries(action.inputs)
      .filter(([, input]) => input.required === true)
      .map(([name]) => name),
    outputs: new Set(Object.keys(action.outputs)),
    commands: new Set(quoted.filter((word) => !inputs.has(word))),
    defaultCommand: action.inputs.command?.default ?? '',
    defaultSteps: action.inputs.steps?.default ?? ''
  }
}

/** The ```yaml blocks of a Markdown text that use the action (the README's workflow examples). */
export function workflowBlocks(markdown: string): string[] {
  const blocks = [...markdown.matchAll(/^```ya?ml[^\n]*\n([\s\S]*?)^```[ \t]*$/gm)]
  return blocks.map((m) => m[1] ?? '').filter((block) => /uses:\s*istio-bluegreen\//.test(block))
}

export interface ValidateOptions {
  /**
   * Also require the concurrency group to name the namespace and service the workflow changes
   * (`istio-bluegreen-<namespace>-<service>`), so every workflow of a service shares one group.
   */
  groupNaming?: boolean
}

/** Problems of one workflow, as readable sentences; empty when it is fine. */
export async function validateWorkflow(
  name: string,
  content: string,
  contract: Contract,
  options: ValidateOptions = {}
): Promise<string[]> {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter())
  const parseErrors = parsed.context.errors.getErrors().map((e) => `parse: ${e.message}`)
  if (parseErrors.length > 0 || parsed.value === undefined) {
    return parseErrors.length > 0 ? parseErrors : ['parse: empty workflow']
  }
  const template = await convertWorkflowTemplate(parsed.context, parsed.value)
  const conversionErrors = [
    ...parsed.context.errors.getErrors().map((e) => `parse: ${e.message}`),
    ...(template.errors ?? []).map((e) => `parse: ${e.Message}`)
  ]
  if (conversionErrors.length > 0) return [...new Set(conversionErrors)]

  const problems: string[] = []
  const root = parsed.value
  const jobsById = new Map(template.jobs.map((job) => [job.id.value, job]))
  for (const job of template.jobs) {
    if (job.type !== 'job') continue
    const jobId = job.id.value
    const rawJob = field(field(root, 'jobs'), jobId)
    const rawSteps = field(rawJob, 'steps')
    const stepTokens = rawSteps && isSequence(rawSteps) ? [...rawSteps] : []
    const ours = new Set<string>()
    let mutates = false
    const targets: Target[] = []
    stepTokens.forEach((step, index) => {
      const uses = field(step, 'uses')
      if (!uses || !isString(uses) || !ACTION.test(uses.value)) return
      const id = job.steps[index]?.id ?? ''
      if (!id.startsWith('__')) ours.add(id)
      const where = `${name}: job ${jobId}, step ${id.startsWith('__') ? `#${index + 1}` : id}`
      const checked = checkStep(where, field(step, 'with'), template, contract)
      problems.push(...checked.problems)
      if (checked.commands === undefined || checked.commands.some((c) => MUTATING.has(c))) {
        mutates = true
        targets.push(checked.target)
      }
    })

    problems.push(
      ...checkReferences(`${name}: job ${jobId}`, rawJob, job, ours, jobsById, contract)
    )

    if (mutates) {
      const where = `${name}: job ${jobId}`
      const groups = [field(root, 'concurrency'), field(rawJob, 'concurrency')]
        .filter((t): t is Token => t !== undefined)
        .map(concurrencyOf)
      if (groups.length === 0) {
        problems.push(
          `${where}: changes traffic but has no concurrency group (workflow or job level)`
        )
      }
      for (const group of groups) {
        const cancel = group.cancelInProgress
        if (cancel !== undefined && !(isBoolean(cancel) && !cancel.value)) {
          problems.push(
            `${where}: cancel-in-progress must be false: a rollout cancelled mid-way is left half-shifted`
          )
        }
      }
      if (options.groupNaming && groups.length > 0) {
        for (const target of targets) {
          if (!groups.some((group) => namesTarget(group.group, target))) {
            problems.push(
              `${where}: concurrency group ${JSON.stringify(groups.map((g) => g.group))} does not name ` +
                `istio-bluegreen-${target.namespace ?? '<namespace>'}-${target.service}`
            )
          }
        }
      }
    }
  }
  return problems
}

/** The namespace and service a step changes, as written (literal or expression text). */
interface Target {
  namespace: string | undefined
  service: string
  serviceIsExpression: boolean
}

interface StepCheck {
  problems: string[]
  /** Commands the step may run; undefined when an expression could run any. */
  commands: string[] | undefined
  target: Target
}

function checkStep(
  where: string,
  withToken: Token | undefined,
  template: WorkflowTemplate,
  contract: Contract
): StepCheck {
  const problems: string[] = []
  const inputs = new Map<string, Token>()
  if (withToken && isMapping(withToken)) {
    for (const { key, value } of withToken) inputs.set(key.toString(), value)
  }
  for (const input of inputs.keys()) {
    if (!contract.inputs.has(input)) problems.push(`${where}: input ${input} is not in action.yml`)
  }
  for (const input of contract.required) {
    const value = inputs.get(input)
    if (value === undefined || (isLiteral(value) && value.toString().trim() === '')) {
      problems.push(`${where}: required input ${input} is missing`)
    }
  }

  const commands = possibleCommands(inputs.get('command'), template, contract)
  for (const command of commands ?? []) {
    if (!contract.commands.has(command)) {
      problems.push(
        `${where}: command ${command} is none of ${[...contract.commands].join(', ')} (action.yml)`
      )
    }
  }

  const steps = literal(inputs.get('steps')) ?? contract.defaultSteps
  if (inputs.get('steps') === undefined || literal(inputs.get('steps')) !== undefined) {
    const weights = steps.split(',').map((s) => Number(s.trim()))
    const increasing = weights.every((w, i) => i === 0 || w > (weights[i - 1] ?? 0))
    if (
      !weights.every((w) => Number.isInteger(w) && w > 0) ||
      !increasing ||
      weights.at(-1) !== 100
    ) {
      problems.push(`${where}: steps ${steps} are not strictly increasing weights ending at 100`)
    }
    const pauseAt = literal(inputs.get('pause-at'))
    // 0 pauses before the first step, which only test-header makes worth it (see inputs.ts).
    if (pauseAt === '0' && !inputs.has('test-header')) {
      problems.push(`${where}: pause-at 0 needs test-header`)
    } else if (pauseAt !== undefined && pauseAt !== '0' && !weights.includes(Number(pauseAt))) {
      problems.push(`${where}: pause-at ${pauseAt} is not one of the steps ${steps}`)
    }
  }

  const service = inputs.get('service')
  const target: Target = {
    namespace: literal(inputs.get('namespace')),
    service: service ? textOf(service) : '',
    serviceIsExpression: service !== undefined && isBasicExpression(service)
  }
  return { problems, commands, target }
}

/** The commands a step may run: the literal, the default, or the options of a `choice` input. */
function possibleCommands(
  token: Token | undefined,
  template: WorkflowTemplate,
  contract: Contract
): string[] | undefined {
  if (token === undefined) return [contract.defaultCommand]
  if (isLiteral(token)) return [token.toString()]
  if (!isBasicExpression(token)) return undefined
  const input = /^\s*inputs\.([\w-]+)\s*$/.exec(token.expression)?.[1]
  const options = input ? template.events.workflow_dispatch?.inputs?.[input]?.options : undefined
  return options && options.length > 0 ? options : undefined
}

/**
 * Every `steps.<id>.outputs.<name>` of the job names a step of the job, and an output that
 * action.yml declares when the step is this action; every `needs.<job>.outputs.<name>` names a
 * job the job needs and one of that job's outputs.
 */
function checkReferences(
  where: string,
  rawJob: Token | undefined,
  job: WorkflowTemplate['jobs'][number],
  ours: Set<string>,
  jobsById: Map<string, WorkflowTemplate['jobs'][number]>,
  contract: Contract
): string[] {
  if (rawJob === undefined || job.type !== 'job') return []
  const problems: string[] = []
  const stepIds = new Set(job.steps.map((s) => s.id))
  const needs = new Set((job.needs ?? []).map((n) => n.value))
  for (const expression of expressionsIn(rawJob)) {
    for (const [, id, name] of references(expression, 'steps')) {
      if (!stepIds.has(id)) {
        problems.push(`${where}: steps.${id}.outputs.${name} names no step of the job`)
      } else if (ours.has(id) && !contract.outputs.has(name)) {
        problems.push(`${where}: steps.${id}.outputs.${name} is not an output in action.yml`)
      }
    }
    for (const [, id, name] of references(expression, 'needs')) {
      const needed = jobsById.get(id)
      const outputs = needed?.outputs ? [...needed.outputs].map(({ key }) => key.toString()) : []
      if (!needs.has(id)) {
        problems.push(`${where}: needs.${id}.outputs.${name} names a job it does not need`)
      } else if (!outputs.includes(name)) {
        problems.push(`${where}: needs.${id}.outputs.${name} is not an output of job ${id}`)
      }
    }
  }
  return problems
}

/** `<context>.<id>.outputs.<name>` and `<context>.<id>.outputs['<name>']` as [match, id, name]. */
function references(expression: string, context: 'steps' | 'needs'): [string, string, string][] {
  const pattern = new RegExp(
    `\\b${context}\\.([A-Za-z_][\\w-]*)\\.outputs(?:\\.([A-Za-z_][\\w-]*)|\\[\\s*'([^']+)'\\s*\\])`,
    'g'
  )
  return [...expression.matchAll(pattern)].map((m) => [m[0], m[1] ?? '', m[2] ?? m[3] ?? ''])
}

/** Expressions in a token: every `${{ }}` and every `if:` (an expression without the braces). */
function expressionsIn(token: Token, key?: string): string[] {
  if (isBasicExpression(token)) return [token.expression]
  if (isString(token)) return key === 'if' ? [token.value] : []
  if (isSequence(token)) return [...token].flatMap((item) => expressionsIn(item))
  if (isMapping(token)) {
    return [...token].flatMap(({ key: k, value }) => expressionsIn(value, k.toString()))
  }
  return []
}

interface Concurrency {
  group: string
  cancelInProgress: Token | undefined
}

function concurrencyOf(token: Token): Concurrency {
  if (!isMapping(token)) return { group: textOf(token), cancelInProgress: undefined }
  const group = field(token, 'group')
  return { group: group ? textOf(group) : '', cancelInProgress: field(token, 'cancel-in-progress') }
}

/** A literal group must be `istio-bluegreen-<namespace>-<service>`; an expression must build it. */
function namesTarget(group: string, target: Target): boolean {
  const prefix = `istio-bluegreen-${target.namespace ?? ''}`
  if (target.serviceIsExpression) return group.includes(prefix) && group.includes(target.service)
  return target.namespace === undefined
    ? group.startsWith('istio-bluegreen-') && group.endsWith(`-${target.service}`)
    : group === `${prefix}-${target.service}`
}

function field(token: Token | undefined, key: string): Token | undefined {
  return token && isMapping(token) ? token.find(key) : undefined
}

/** A literal scalar as text; undefined for expressions, mappings and sequences. */
function literal(token: Token | undefined): string | undefined {
  return token && isLiteral(token) ? token.toString() : undefined
}

function textOf(token: Token): string {
  if (isBasicExpression(token)) return token.expression
  return isLiteral(token) ? token.toString() : ''
}

const contract = loadContract(read('action.yml'))
const examples = readdirSync(join(repo, 'examples'))
  .filter((file) => file.endsWith('.yml'))
  .sort()
const workflows = readdirSync(join(repo, '.github/workflows'))
  .filter((file) => /\.ya?ml$/.test(file))
  .map((file) => join('.github/workflows', file))
  .sort()

describe('action.yml, as the checks read it', () => {
  it('lists the commands in the description of `command`', () => {
    expect([...contract.commands].sort()).toEqual([
      'abort',
      'deploy',
      'plan',
      'promote',
      'resume',
      'rollback',
      'status'
    ])
    expect(contract.defaultCommand).toBe('deploy')
  })

  it('requires service and declares the outputs the examples read', () => {
    expect(contract.required).toEqual(['service'])
    for (const output of ['result', 'weights', 'report', 'phase', 'stable-color']) {
      expect(contract.outputs).toContain(output)
    }
  })
})

describe('examples/', () => {
  it('holds the example workflows, each listed in examples/README.md', () => {
    expect(examples).toEqual(
      expect.arrayContaining(['operate.yml', 'pause-and-promote.yml', 'plan.yml', 'release.yml'])
    )
    const index = read('examples/README.md')
    for (const file of examples) expect(index).toContain(`(${file})`)
  })

  it.each(examples)(
    '%s is a valid workflow that uses the action as action.yml declares',
    async (file) => {
      const problems = await validateWorkflow(file, read(join('examples', file)), contract, {
        groupNaming: true
      })
      expect(problems).toEqual([])
    }
  )

  it.each(examples)('%s is really checked: a misspelt service is reported', async (file) => {
    const broken = read(join('examples', file)).replace(/(\n\s+)service:/g, '$1servce:')
    const problems = await validateWorkflow(file, broken, contract)
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('input servce is not in action.yml'),
        expect.stringContaining('required input service is missing')
      ])
    )
  })

  it.each(examples)('%s uses the action', (file) => {
    const actions = usesOf(read(join('examples', file))).map((u) => u.action)
    expect(actions).toContain('istio-bluegreen/istio-bluegreen')
  })
})

describe('.github/workflows/', () => {
  it('holds ci.yml and e2e-kind.yml', () => {
    expect(workflows).toEqual(
      expect.arrayContaining(['.github/workflows/ci.yml', '.github/workflows/e2e-kind.yml'])
    )
  })

  it.each(workflows)(
    '%s is a valid workflow, and its steps of the action (uses: ./) use it as action.yml declares',
    async (file) => {
      expect(await validateWorkflow(file, read(file), contract)).toEqual([])
    }
  )

  it('checks the e2e workflow against action.yml: a misspelt service is reported', async () => {
    const file = '.github/workflows/e2e-kind.yml'
    const broken = read(file).replace(/(\n\s+)service:/g, '$1servce:')
    expect(await validateWorkflow(file, broken, contract)).toEqual(
      expect.arrayContaining([expect.stringContaining('input servce is not in action.yml')])
    )
  })
})

describe('action majors', () => {
  it.each([...workflows, ...examples.map((file) => join('examples', file)), 'README.md'])(
    '%s uses every action at its major in ACTION_MAJORS',
    (file) => {
      expect(actionRefProblems(file, read(file))).toEqual([])
    }
  )

  it('the README and the examples use checkout and the action, the workflows checkout and setup-node', () => {
    const used = (files: string[]): Set<string> =>
      new Set(files.flatMap((file) => usesOf(read(file)).map((u) => u.action)))
    const readme = used(['README.md'])
    const inExamples = used(examples.map((file) => join('examples', file)))
    for (const action of ['actions/checkout', 'istio-bluegreen/istio-bluegreen']) {
      expect(readme).toContain(action)
      expect(inExamples).toContain(action)
    }
    const inWorkflows = used(workflows)
    for (const action of ['actions/checkout', 'actions/setup-node']) {
      expect(inWorkflows).toContain(action)
    }
  })

  it.each([
    [
      'a known action at another major',
      '- uses: actions/checkout@v4',
      'but ACTION_MAJORS says @v1'
    ],
    ['an action not in the table', '  - uses: acme/deploy@v2', 'not in ACTION_MAJORS'],
    ['an unpinned action', 'steps:\n  - uses: actions/checkout', 'has no @ref; pin it at @v1']
  ])('reports %s', (_, text, problem) => {
    expect(actionRefProblems('x.yml', text, { 'actions/checkout': 'v1' })).toEqual([
      expect.stringContaining(problem)
    ])
  })

  it('reads uses: in its spellings, and leaves local actions and docker images alone', () => {
    const text = [
      'steps:',
      '  - uses: actions/checkout@v7',
      "  - uses: 'actions/setup-node@v7'",
      '  - name: x',
      '    uses: docker/login-action@v4 # a comment',
      '  - uses: ./',
      '  - uses: ./.github/actions/mine',
      '  - uses: docker://alpine:3.20',
      '# - uses: commented/out@v0',
      '  - run: echo uses: not/a-step@v9'
    ].join('\n')
    expect(usesOf(text)).toEqual([
      { action: 'actions/checkout', ref: 'v7' },
      { action: 'actions/setup-node', ref: 'v7' },
      { action: 'docker/login-action', ref: 'v4' }
    ])
  })
})

describe('README.md', () => {
  const blocks = workflowBlocks(read('README.md'))

  it('has a workflow example', () => {
    expect(blocks.length).toBeGreaterThan(0)
  })

  it.each(blocks.map((block, i) => [i + 1, block] as const))(
    'workflow block %i is a valid workflow that uses the action as action.yml declares',
    async (n, block) => {
      expect(await validateWorkflow(`README.md block ${n}`, block, contract)).toEqual([])
    }
  )
})

describe('workflowBlocks', () => {
  it('extracts only the yaml blocks that use the action', () => {
    const markdown = [
      '# Title',
      '```yaml',
      'steps:',
      '  - uses: istio-bluegreen/istio-bluegreen@v1',
      '```',
      '```sh',
      'echo uses: istio-bluegreen/istio-bluegreen@v1',
      '```',
      '```yaml',
      'kind: Role',
      '```',
      '```yml title="x"',
      '- uses: istio-bluegreen/istio-bluegreen@main',
      '```',
      ''
    ].join('\n')
    expect(workflowBlocks(markdown)).toEqual([
      'steps:\n  - uses: istio-bluegreen/istio-bluegreen@v1\n',
      '- uses: istio-bluegreen/istio-bluegreen@main\n'
    ])
  })
})

/** A small workflow that is fine as it is; each broken case below changes one thing. */
function workflow({
  on = 'push',
  concurrency = 'concurrency:\n  group: istio-bluegreen-shop-reviews\n  cancel-in-progress: false',
  inputs = 'service: reviews\n          namespace: shop\n          image: ghcr.io/acme/reviews:1.2.3',
  after = 'echo "${{ steps.rollout.outputs.result }}"'
}: { on?: string; concurrency?: string; inputs?: string; after?: string } = {}): string {
  return `on: ${on}
${concurrency}
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - id: rollout
        uses: istio-bluegreen/istio-bluegreen@v1
        with:
          ${inputs}
      - run: ${after}
`
}

const dispatch = (options: string): string =>
  `\n  workflow_dispatch:\n    inputs:\n      command:\n        type: choice\n        options: [${options}]`

describe('validateWorkflow', () => {
  it('accepts the small valid workflow', async () => {
    expect(await validateWorkflow('ok.yml', workflow(), contract, { groupNaming: true })).toEqual(
      []
    )
  })

  it.each([
    ['a schema error', workflow({ on: 'push\npermissons: read-all' }), 'parse: '],
    [
      'an undeclared input',
      workflow({ inputs: 'service: reviews\n          servce: x' }),
      'input servce is not in action.yml'
    ],
    [
      'a missing service',
      workflow({ inputs: 'image: ghcr.io/acme/reviews:1' }),
      'required input service is missing'
    ],
    [
      'an unknown command',
      workflow({ inputs: 'service: reviews\n          command: promte' }),
      'command promte is none of'
    ],
    [
      'a choice input offering an unknown command',
      workflow({
        on: dispatch('status, promte'),
        inputs: 'service: reviews\n          command: ${{ inputs.command }}'
      }),
      'command promte is none of'
    ],
    [
      'an undeclared output',
      workflow({ after: 'echo "${{ steps.rollout.outputs.status }}"' }),
      'steps.rollout.outputs.status is not an output'
    ],
    [
      'a bracketed undeclared output',
      workflow({ after: 'echo "${{ steps.rollout.outputs[\'colour\'] }}"' }),
      'steps.rollout.outputs.colour is not an output'
    ],
    [
      'a step that does not exist',
      workflow({ after: 'echo "${{ steps.rolout.outputs.result }}"' }),
      'names no step of the job'
    ],
    ['a deploy without concurrency', workflow({ concurrency: '' }), 'has no concurrency group'],
    [
      'a rollout that the next run cancels',
      workflow({
        concurrency:
          'concurrency:\n  group: istio-bluegreen-shop-reviews\n  cancel-in-progress: true'
      }),
      'cancel-in-progress must be false'
    ],
    [
      'a group that names another service',
      workflow({ concurrency: 'concurrency: istio-bluegreen-shop-ratings' }),
      'does not name istio-bluegreen-shop-reviews'
    ],
    [
      'steps that do not end at 100',
      workflow({ inputs: 'service: reviews\n          steps: 10,50,90' }),
      'steps 10,50,90 are not strictly increasing'
    ],
    [
      'a pause-at that is no step',
      workflow({ inputs: 'service: reviews\n          pause-at: 30' }),
      'pause-at 30 is not one of the steps'
    ],
    [
      'a pause-at 0 without test-header',
      workflow({ inputs: 'service: reviews\n          pause-at: 0' }),
      'pause-at 0 needs test-header'
    ]
  ])('reports %s', async (_, content, problem) => {
    const problems = await validateWorkflow('broken.yml', content, contract, { groupNaming: true })
    expect(problems).toEqual(expect.arrayContaining([expect.stringContaining(problem)]))
  })

  it('needs no concurrency group for read-only commands', async () => {
    const content = workflow({
      concurrency: '',
      inputs: 'service: reviews\n          command: plan'
    })
    expect(await validateWorkflow('plan.yml', content, contract)).toEqual([])
  })

  it('takes the commands of a choice input, and asks for a group when one changes traffic', async () => {
    const readOnly = workflow({
      on: dispatch('status, plan'),
      concurrency: '',
      inputs: 'service: reviews\n          command: ${{ inputs.command }}'
    })
    expect(await validateWorkflow('status.yml', readOnly, contract)).toEqual([])
    const operate = workflow({
      on: dispatch('status, rollback'),
      concurrency: '',
      inputs: 'service: reviews\n          command: ${{ inputs.command }}'
    })
    expect(await validateWorkflow('operate.yml', operate, contract)).toEqual([
      'operate.yml: job release: changes traffic but has no concurrency group (workflow or job level)'
    ])
  })

  it('checks outputs passed on between jobs', async () => {
    const content = `on: push
concurrency: istio-bluegreen-shop-reviews
jobs:
  deploy:
    runs-on: ubuntu-latest
    outputs:
      result: \${{ steps.rollout.outputs.result }}
    steps:
      - id: rollout
        uses: istio-bluegreen/istio-bluegreen@v1
        with:
          service: reviews
          namespace: shop
  promote:
    needs: deploy
    if: needs.deploy.outputs.reslt == 'paused'
    runs-on: ubuntu-latest
    steps:
      - run: echo "\${{ needs.deploy.outputs.result }}"
`
    expect(await validateWorkflow('two-jobs.yml', content, contract)).toEqual([
      'two-jobs.yml: job promote: needs.deploy.outputs.reslt is not an output of job deploy'
    ])
  })
})

describe('README tables', () => {
  /** The first column of the markdown table under `heading`: `name` cells, split on " / ". */
  const tableNames = (heading: string): string[] => {
    const section = read('README.md').split(`### ${heading}\n`)[1] ?? ''
    const table = section.slice(0, section.search(/\n\n(?!\|)/) + 1)
    return table
      .split('\n')
      .slice(2)
      .flatMap((row) => [...(/^\|\s*([^|]+?)\s*\|/.exec(row)?.[1] ?? '').matchAll(/`([^`]+)`/g)])
      .map((m) => m[1] as string)
  }

  it('list every input of action.yml, once, and nothing else', () => {
    const names = tableNames('Inputs')
    expect([...names].sort()).toEqual([...contract.inputs].sort())
  })

  it('list every output of action.yml, once, and nothing else', () => {
    const names = tableNames('Outputs')
    expect([...names].sort()).toEqual([...contract.outputs].sort())
  })
})
