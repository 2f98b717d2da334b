/**
 * Kube keeps its TLS connections: client-node gives every request of a cluster with its own CA a
 * new undici Agent, so without Kube's sharing each request would open a connection and shake
 * hands again. A loopback HTTPS server counts the TLS connections it accepts. Which requests share
 * is core/connections.ts's (its table in __tests__/core/connections.test.ts).
 */
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { Kube, LEASES, loadKubeConfig } from '../../src/adapters/kube.js'
import { SANDBOX_CERT, SANDBOX_KEY } from '../../sandbox/apiserver/tls.js'

describe('Kube over TLS', () => {
  let server: Server
  let connections = 0
  let url = ''

  beforeAll(async () => {
    server = createServer({ cert: SANDBOX_CERT, key: SANDBOX_KEY }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: 'l', namespace: 'demo', resourceVersion: '1' }
        })
      )
    })
    server.on('secureConnection', () => connections++)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  })

  it('sends the requests of one identity over the connections of the first', async () => {
    const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: '${url}', certificate-authority-data: '${Buffer.from(SANDBOX_CERT).toString('base64')}' } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u, namespace: demo } }]
current-context: x
`
    const kube = new Kube(loadKubeConfig({ kubeconfig }))
    connections = 0
    for (let i = 0; i < 10; i++) {
      expect((await kube.get(LEASES, 'demo', 'l'))?.metadata.name).toBe('l')
    }
    // One a request without the sharing; a second may open while the first is being released.
    expect(connections).toBeLessThanOrEqual(2)
  })
})
