/**
 * The sandbox API server as the real kubectl sees it (skipped when kubectl is not installed):
 * discovery, tables, short names, versioned resources, patch types, get/replace round trips, and
 * the error texts kubectl prints from the Status bodies.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { NS, seed, startHarness, type Harness } from './apiserver.harness.js'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ controllerDelayMs: 20 })
  seed(h.server.store)
})
afterAll(async () => {
  await h.close()
})

const KUBECTL = ['/usr/bin/kubectl', '/usr/local/bin/kubectl'].find((p) => existsSync(p))
const describeKubectl = KUBECTL ? describe : describe.skip

describeKubectl(
  `kubectl${KUBECTL ? '' : ' (skipped: kubectl not found in /usr/bin or /usr/local/bin)'}`,
  () => {
    let dir: string
    const run = promisify(execFile)
    const kubectl = async (
      ...args: string[]
    ): Promise<{ out: string; err: string; code: number }> => {
      try {
        const { stdout, stderr } = await run(
          KUBECTL as string,
          ['--cache-dir', path.join(dir, 'cache'), ...args],
          {
            env: { ...process.env, KUBECONFIG: path.join(dir, 'kubeconfig') }
          }
        )
        return { out: stdout, err: stderr, code: 0 }
      } catch (e) {
        const x = e as { stdout: string; stderr: string; code: number }
        return { out: x.stdout, err: x.stderr, code: x.code }
      }
    }

    beforeAll(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'apiserver-kubectl-'))
      writeFileSync(path.join(dir, 'kubeconfig'), h.server.kubeconfig(NS))
    })
    afterAll(() => rmSync(dir, { recursive: true, force: true }))

    it('gets every seeded kind, including by short name and by versioned resource', async () => {
      const r = await kubectl('get', 'deploy,svc,vs,dr,leases')
      expect(r.err).toBe('')
      for (const name of [
        'deployment.apps/reviews-blue',
        'service/reviews',
        'virtualservice.networking.istio.io/reviews',
        'destinationrule.networking.istio.io/reviews',
        'lease.coordination.k8s.io/reviews-lock'
      ]) {
        expect(r.out).toContain(name)
      }
      const versioned = await kubectl(
        'get',
        'virtualservices.v1beta1.networking.istio.io',
        'reviews',
        '-o',
        'yaml'
      )
      expect(versioned.out).toContain('apiVersion: networking.istio.io/v1beta1')
    })

    it('patches with --type merge and --type json, and sees a failed JSON patch test refused', async () => {
      const merge = await kubectl(
        'patch',
        'vs',
        'reviews',
        '--type',
        'merge',
        '-p',
        '{"metadata":{"labels":{"by":"kubectl"}}}'
      )
      expect(merge.out.trim()).toBe('virtualservice.networking.istio.io/reviews patched')
      const json = await kubectl(
        'patch',
        'dr',
        'reviews',
        '--type',
        'json',
        '-p',
        '[{"op":"add","path":"/spec/subsets/-","value":{"name":"green","labels":{"version":"green"}}}]'
      )
      expect(json.out.trim()).toBe('destinationrule.networking.istio.io/reviews patched')
      expect(h.server.store.get('destinationrules', NS, 'reviews')?.spec?.subsets).toHaveLength(2)
      const test = await kubectl(
        'patch',
        'vs',
        'reviews',
        '--type',
        'json',
        '-p',
        '[{"op":"test","path":"/spec/hosts/0","value":"nope"}]'
      )
      expect(test.code).not.toBe(0)
      expect(test.err).toContain(
        'The request is invalid: the server rejected our request due to an error in our request'
      )
      const smp = await kubectl('patch', 'vs', 'reviews', '-p', '{"spec":{"hosts":["x"]}}')
      expect(smp.err).toContain('the body of the request was in an unknown format')
    })

    it('round-trips every seeded object through get -o yaml and replace -f', async () => {
      const objects = [
        'vs/reviews',
        'dr/reviews',
        'deploy/reviews-blue',
        'svc/reviews',
        'lease/reviews-lock',
        'vs'
      ]
      const results = await Promise.all(
        objects.map(async (what) => {
          const got = await kubectl('get', what, '-o', 'yaml')
          const file = path.join(dir, `${what.replace('/', '-')}.yaml`)
          writeFileSync(file, got.out)
          return { what, ...(await kubectl('replace', '-f', file)) }
        })
      )
      for (const r of results)
        expect({ what: r.what, err: r.err, replaced: /replaced/.test(r.out) }).toEqual({
          what: r.what,
          err: '',
          replaced: true
        })
    })

    it('reports a stale replace as a conflict', async () => {
      const got = await kubectl('get', 'lease', 'reviews-lock', '-o', 'yaml')
      await kubectl(
        'patch',
        'lease',
        'reviews-lock',
        '--type',
        'merge',
        '-p',
        '{"spec":{"holderIdentity":"other"}}'
      )
      const file = path.join(dir, 'stale.yaml')
      writeFileSync(file, got.out)
      const r = await kubectl('replace', '-f', file)
      expect(r.err).toContain(
        'the object has been modified; please apply your changes to the latest version and try again'
      )
    })

    it('shows schema violations as kube-apiserver words them', async () => {
      const r = await kubectl(
        'patch',
        'vs',
        'reviews',
        '--type',
        'merge',
        '-p',
        '{"spec":{"http":[{"route":[{"destination":{"host":"r"},"weight":"x"}]}]}}'
      )
      expect(r.err.trim()).toBe(
        'The VirtualService "reviews" is invalid: spec.http[0].route[0].weight: Invalid value: "string": spec.http[0].route[0].weight in body must be of type integer: "string"'
      )
    })
  }
)
