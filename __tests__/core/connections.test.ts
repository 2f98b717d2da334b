/** Which requests to the Kubernetes API may share connections (core/connections.ts). */
import {
  connectionKey,
  type ConnectionCluster,
  type ConnectionUser
} from '../../src/core/connections.js'

const CLUSTER: ConnectionCluster = {
  server: 'https://10.0.0.1',
  caData: 'Q0E=',
  skipTLSVerify: false
}
const USER: ConnectionUser = {}

describe('connectionKey: which requests may share connections', () => {
  const key = (c: Partial<typeof CLUSTER>, u: ConnectionUser, auth?: string) =>
    connectionKey({ ...CLUSTER, ...c }, { ...USER, ...u }, auth)
  const base = key({}, {}, 'Bearer a')

  it.each<[string, string | undefined, boolean]>([
    ['the same cluster, user and token', key({}, {}, 'Bearer a'), true],
    ['another token', key({}, {}, 'Bearer b'), false],
    ['another server', key({ server: 'https://10.0.0.2' }, {}, 'Bearer a'), false],
    ['another CA', key({ caData: 'Q0I=' }, {}, 'Bearer a'), false],
    ['a client certificate', key({}, { certData: 'Y2VydA==' }, 'Bearer a'), false],
    ['another TLS server name', key({ tlsServerName: 'api' }, {}, 'Bearer a'), false]
  ])('%s: shared with the first = %s', (_name, other, same) => {
    expect(other === base).toBe(same)
  })

  it.each<[string, ConnectionUser, string | undefined, boolean]>([
    ['a static token', {}, 'Bearer a', true],
    ['no credentials at all', {}, undefined, true],
    ['an exec plugin that gave a token', { exec: { command: 'aws' } }, 'Bearer a', true],
    // The plugin may have given a client certificate it renews: only a new connection shows it.
    ['an exec plugin without a token', { exec: { command: 'tsh' } }, undefined, false],
    ['an auth provider without a token', { authProvider: { name: 'oidc' } }, undefined, false]
  ])('%s: shareable = %s', (_name, user, auth, shareable) => {
    expect(key({}, user, auth) !== undefined).toBe(shareable)
  })
})
