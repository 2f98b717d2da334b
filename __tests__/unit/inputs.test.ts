import { InputError, parseRate, parseSteps, readSettings } from '../../src/inputs.js'

const base: Record<string, string> = {
  service: 'reviews',
  image: 'example.com/reviews:2.0.0',
  'prometheus-url': 'http://127.0.0.1:9090/'
}

function settings(inputs: Record<string, string>) {
  const all = { ...base, ...inputs }
  return readSettings((name) => all[name] ?? '')
}

function errorOf(inputs: Record<string, string>): string {
  try {
    settings(inputs)
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return (error as Error).message
  }
  throw new Error('expected an InputError')
}

describe('readSettings', () => {
  it('applies the documented defaults', () => {
    expect(settings({})).toEqual({
      command: 'deploy',
      kubeconfig: undefined,
      context: undefined,
      namespace: undefined,
      service: 'reviews',
      image: 'example.com/reviews:2.0.0',
      container: undefined,
      manifests: undefined,
      virtualService: 'reviews',
      destinationRule: 'reviews',
      routes: [],
      colorLabel: 'version',
      steps: [10, 25, 50, 100],
      stepDurationMs: 60_000,
      checkIntervalMs: 10_000,
      readyTimeoutMs: 300_000,
      prometheusUrl: 'http://127.0.0.1:9090',
      maxErrorRate: 0.01,
      maxP99Ms: undefined,
      analysisWindowMs: 60_000,
      minRequests: 20,
      failureLimit: 2,
      maxInconclusive: 2,
      reporter: 'destination',
      previousColor: 'keep',
      failOnRollback: true,
      skipAnalysis: false,
      sha: undefined,
      githubToken: undefined,
      environment: undefined,
      onInterrupt: 'rollback',
      onDrift: 'pause',
      waitForLockMs: undefined,
      leaseDurationMs: 60_000
    })
  })

  it.each(['promote', 'resume', 'rollback', 'abort', 'status'])(
    '%s needs neither an image nor prometheus-url (the record has them)',
    (command) => {
      const s = readSettings((name) => ({ service: 'reviews', command })[name] ?? '')
      expect(s).toMatchObject({ command, image: undefined, prometheusUrl: undefined })
    }
  )

  it('reads pause-at, skip-analysis, sha, github-token and environment', () => {
    expect(settings({ 'pause-at': '50' }).pauseAt).toBe(50)
    const s = settings({
      command: 'promote',
      'skip-analysis': 'true',
      sha: 'a'.repeat(40),
      'github-token': 'ghs_x',
      environment: 'production'
    })
    expect(s).toMatchObject({
      skipAnalysis: true,
      sha: 'a'.repeat(40),
      githubToken: 'ghs_x',
      environment: 'production'
    })
  })

  it('reads every input', () => {
    const s = settings({
      namespace: 'shop',
      container: 'app',
      'virtual-service': 'reviews-vs',
      'destination-rule': 'reviews-dr',
      routes: 'primary, canary',
      'color-label': 'example.com/color',
      steps: '5,100',
      'step-duration': '30s',
      'check-interval': '5s',
      'ready-timeout': '2m',
      'max-error-rate': '0.5%',
      'max-p99-latency': '750ms',
      'analysis-window': '2m',
      'min-requests': '50',
      'failure-limit': '3',
      'max-inconclusive': '0',
      reporter: 'source',
      'previous-color': 'scale-down',
      'fail-on-rollback': 'false'
    })
    expect(s).toMatchObject({
      namespace: 'shop',
      container: 'app',
      virtualService: 'reviews-vs',
      destinationRule: 'reviews-dr',
      routes: ['primary', 'canary'],
      colorLabel: 'example.com/color',
      steps: [5, 100],
      stepDurationMs: 30_000,
      checkIntervalMs: 5000,
      readyTimeoutMs: 120_000,
      maxErrorRate: 0.005,
      maxP99Ms: 750,
      analysisWindowMs: 120_000,
      minRequests: 50,
      failureLimit: 3,
      maxInconclusive: 0,
      reporter: 'source',
      previousColor: 'scale-down',
      failOnRollback: false
    })
    expect(Object.isFrozen(s)).toBe(true)
  })

  it.each([
    [{ steps: '10,5,100' }, 'input "steps": "10,5,100" is not strictly increasing'],
    [{ steps: '0,100' }, 'input "steps": "0" in "0,100" is not a weight'],
    [{ steps: '10,150' }, 'input "steps": "150" in "10,150" is not a weight'],
    [{ steps: 'abc' }, 'input "steps": "abc" in "abc" is not a weight'],
    [{ steps: '10,50' }, 'input "steps": "10,50" does not end at 100'],
    [{ 'step-duration': '5' }, 'input "step-duration": "5" is not a duration'],
    [{ 'step-duration': '-1m' }, 'input "step-duration": "-1m" is not a duration'],
    [{ 'ready-timeout': '1y' }, 'input "ready-timeout": "1y" is not a duration'],
    [{ 'check-interval': '0s' }, 'input "check-interval": "0s" is not a duration'],
    [{ 'max-error-rate': '200%' }, 'input "max-error-rate": "200%" is not a rate'],
    [{ 'max-error-rate': '-1' }, 'input "max-error-rate": "-1" is not a rate'],
    [{ 'max-error-rate': '1.5' }, 'input "max-error-rate": "1.5" is not a rate'],
    [{ 'max-p99-latency': 'fast' }, 'input "max-p99-latency": "fast" is not a duration'],
    [{ 'analysis-window': '500ms' }, 'input "analysis-window": must be at least 1s'],
    [
      { 'min-requests': 'many' },
      'input "min-requests": "many" is not a whole number of at least 1'
    ],
    [{ 'failure-limit': '0' }, 'input "failure-limit": "0" is not a whole number of at least 1'],
    [
      { command: 'ship' },
      'input "command": "ship" is not one of: deploy, promote, resume, rollback, abort, status, plan'
    ],
    [{ 'pause-at': '30' }, 'input "pause-at": "30" is not one of the steps (10, 25, 50, 100)'],
    [{ 'skip-analysis': 'true' }, 'input "skip-analysis": applies to promote only, not to deploy'],
    [{ sha: 'main' }, 'input "sha": "main" is not a full commit SHA'],
    [{ 'on-interrupt': 'ignore' }, 'input "on-interrupt": "ignore" is not one of: rollback, pause'],
    [{ 'on-drift': 'overwrite' }, 'input "on-drift": "overwrite" is not one of: pause, rollback'],
    [{ 'wait-for-lock': 'forever' }, 'input "wait-for-lock": "forever" is not a duration'],
    [{ 'lease-duration': '2s' }, 'input "lease-duration": must be at least 5s'],
    [
      { command: 'plan', image: '' },
      'input "image": is required for plan unless "manifests" is given'
    ],
    [{ reporter: 'both' }, 'input "reporter": "both" is not one of: destination, source'],
    [
      { 'previous-color': 'delete' },
      'input "previous-color": "delete" is not one of: keep, scale-down'
    ],
    [{ 'fail-on-rollback': 'yes' }, 'input "fail-on-rollback": "yes" is not a boolean'],
    [{ service: '' }, 'input "service": is required'],
    [{ service: 'Reviews' }, 'input "service": "Reviews" is not a valid Service name'],
    [{ service: 'x"}or vector(1) or{a="' }, 'is not a valid Service name'],
    [{ namespace: 'demo_ns' }, 'input "namespace": "demo_ns" is not a valid namespace name'],
    [
      { image: '', manifests: '' },
      'input "image": is required for deploy unless "manifests" is given'
    ],
    [
      { image: 'Example.com/UPPER:tag' },
      'input "image": "Example.com/UPPER:tag" is not an image reference'
    ],
    [{ image: 'reviews:bad tag' }, 'is not an image reference'],
    [{ 'prometheus-url': '' }, 'input "prometheus-url": is required'],
    [
      { 'prometheus-url': 'prometheus:9090' },
      'input "prometheus-url": "prometheus:9090" is not an http or https URL'
    ],
    [{ 'prometheus-url': 'not a url' }, 'input "prometheus-url": "not a url" is not a URL'],
    [{ 'color-label': 'bad label!' }, 'input "color-label": "bad label!" is not a label key']
  ])('refuses %j', (inputs, message) => {
    expect(errorOf(inputs)).toContain(message)
  })

  it.each([
    'example.com/reviews:1.0.0',
    'reviews',
    'ghcr.io/acme/reviews:1.2.3',
    'localhost:5000/team/app@sha256:' + 'a'.repeat(64),
    'docker.io/library/nginx:1.27-alpine'
  ])('accepts the image reference %s', (image) => {
    expect(settings({ image }).image).toBe(image)
  })
})

describe('parseRate', () => {
  it.each([
    ['1%', 0.01],
    ['0.5%', 0.005],
    ['0.01', 0.01],
    ['0', 0],
    ['100%', 1],
    ['1', 1]
  ])('%s is %d', (text, rate) => {
    expect(parseRate('max-error-rate', text)).toBeCloseTo(rate, 10)
  })
})

describe('parseSteps', () => {
  it.each([
    ['10,25,50,100', [10, 25, 50, 100]],
    ['100', [100]],
    [' 1, 2 ,100', [1, 2, 100]]
  ])('%s', (text, steps) => {
    expect(parseSteps(text)).toEqual(steps)
  })
})
