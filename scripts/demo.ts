/**
 * `npm run demo`: starts the sandbox, releases a healthy version (expected: promoted), then a
 * faulty one (expected: rolled back), showing the action's progress as it goes and ending with a
 * short report. Exits 0 only when both outcomes are as expected.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startSandbox } from '../sandbox/index.js'
import { control, runAction, type ActionRun } from '../sandbox/action.js'

const dim = (s: string): string => `\x1b[2m${s}\x1b[0m`
const bold = (s: string): string => `\x1b[1m${s}\x1b[0m`

/** Shows the workflow-command lines of the action's log the way GitHub renders them, roughly. */
function show(raw: string): void {
  // Workflow commands escape %, CR and LF in their data.
  const line = raw.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
  if (line.startsWith('::group::')) console.log(bold(`▸ ${line.slice(9)}`))
  else if (line.startsWith('::endgroup::')) return
  else if (line.startsWith('::warning::')) console.log(`  ⚠ ${line.slice(11)}`)
  else if (line.startsWith('::error::')) console.log(`  ✖ ${line.slice(9)}`)
  else if (line.startsWith('::')) return
  else console.log(`  ${line}`)
}

async function main(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'istio-bluegreen-demo-'))
  console.log(dim(`starting the sandbox in ${dir} (API server, mesh simulator, Prometheus)…`))
  const sb = await startSandbox({ dir, rps: 50 })
  try {
    const inputs = {
      service: 'reviews',
      namespace: 'demo',
      'prometheus-url': sb.prometheusUrl ?? '',
      steps: '10,25,50,100',
      'step-duration': '6s',
      'check-interval': '2s',
      'analysis-window': '6s',
      // The sandbox's images answer 0.1% 5xx: a few seconds hold too few to compare colors.
      'negligible-rate': '20%',
      'max-p99-latency': '400ms'
    }
    const env = { KUBECONFIG: sb.kubeconfigPath }
    const results: Array<{ name: string; expected: string; run: ActionRun }> = []

    console.log(bold('\n1. Release example.com/reviews:2.0.0 (healthy)\n'))
    const healthy = await runAction({ ...inputs, image: 'example.com/reviews:2.0.0' }, env, {
      onLine: show
    })
    results.push({ name: 'reviews:2.0.0 (healthy)', expected: 'promoted', run: healthy })

    console.log(bold('\n2. Release example.com/reviews:2.1.0 (answers 20% of requests with 5xx)\n'))
    await control(sb, '/images', { image: 'example.com/reviews:2.1.0', errorRate: 0.2 })
    const faulty = await runAction({ ...inputs, image: 'example.com/reviews:2.1.0' }, env, {
      onLine: show
    })
    results.push({ name: 'reviews:2.1.0 (20% 5xx)', expected: 'rolled-back', run: faulty })

    // DEMO_SUMMARIES=<dir>: keep each run's job summary there (docs/summary-example.md is one).
    const keep = process.env.DEMO_SUMMARIES
    if (keep) {
      for (const [i, r] of results.entries()) {
        await writeFile(path.join(keep, `summary-${i + 1}.md`), r.run.summary)
      }
    }

    console.log(bold('\nReport'))
    let ok = true
    for (const r of results) {
      const got = r.run.outputs.result ?? `no result (exit ${r.run.code})`
      const pass = got === r.expected
      ok &&= pass
      const detail = [
        `weights ${r.run.outputs.weights ?? '?'}`,
        r.run.outputs['error-rate']
          ? `error rate ${(Number(r.run.outputs['error-rate']) * 100).toFixed(2)}%`
          : '',
        r.run.outputs.reason ? `reason: ${r.run.outputs.reason}` : ''
      ]
        .filter(Boolean)
        .join(' · ')
      console.log(`  ${pass ? '✔' : '✖'} ${r.name}: ${got} (expected ${r.expected}) · ${detail}`)
    }
    console.log(ok ? '\nBoth outcomes as expected.' : '\nAn outcome was not as expected.')
    return ok ? 0 : 1
  } finally {
    await sb.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
