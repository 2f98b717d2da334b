import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))

let dir: string
let child: ChildProcess | undefined

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sandbox-cli-'))
})

afterAll(async () => {
  // Only if the test failed halfway: do not leave the CLI (and its Prometheus) running.
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await rm(dir, { recursive: true, force: true })
})

it('starts, prints the env and ready lines, and stops everything on SIGTERM', async () => {
  const proc = spawn(path.join(repo, 'node_modules', '.bin', 'tsx'), ['sandbox/cli.ts'], {
    cwd: repo,
    // As `npm run sandbox` does: node_modules/.bin first, so tsx runs on the project's Node 24.
    env: {
      ...process.env,
      PATH: `${path.join(repo, 'node_modules', '.bin')}${path.delimiter}${process.env['PATH'] ?? ''}`,
      SANDBOX_DIR: dir,
      NODE_OPTIONS: ''
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child = proc
  let stdout = ''
  let stderr = ''
  proc.stdout?.on('data', (c: Buffer) => (stdout += c.toString()))
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))

  const until = Date.now() + 25_000
  while (!/^sandbox ready$/m.test(stdout)) {
    if (proc.exitCode !== null) throw new Error(`CLI exited early (${proc.exitCode}):\n${stderr}`)
    if (Date.now() > until) throw new Error(`no "sandbox ready" in time:\n${stdout}\n${stderr}`)
    await new Promise((r) => setTimeout(r, 100))
  }

  const envFile = await readFile(path.join(dir, 'env'), 'utf8')
  const lines = stdout.trim().split('\n')
  expect(lines.at(-1)).toBe('sandbox ready')
  expect(lines.slice(0, -1).join('\n') + '\n').toBe(envFile)
  expect(envFile).toMatch(
    new RegExp(
      `^KUBECONFIG=${path.join(dir, 'kubeconfig')}\nPROMETHEUS_URL=http://127\\.0\\.0\\.1:\\d+\nSANDBOX_CONTROL_URL=http://127\\.0\\.0\\.1:\\d+\n$`
    )
  )
  expect((await stat(path.join(dir, 'kubeconfig'))).isFile()).toBe(true)
  const pid = Number(/prometheus .*\(pid (\d+)/.exec(stderr)?.[1])
  expect(pid).toBeGreaterThan(0)
  expect(() => process.kill(pid, 0)).not.toThrow()

  proc.kill('SIGTERM')
  expect(await exited).toBe(0)
  expect(() => process.kill(pid, 0)).toThrow()
}, 40_000)
