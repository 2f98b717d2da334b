/**
 * toKubeError reduces whatever client-node throws to its meaning: the API server's Status
 * message, or what to do about an unreachable, untrusted or unauthenticated server; never the
 * headers client-node puts into its own messages.
 */
import { ApiException } from '@kubernetes/client-node'
import { toKubeError } from '../../src/adapters/kube.js'

const SERVER = 'https://10.0.0.1:6443'
const HEADERS = { authorization: 'Bearer sup3r-secret-token', 'set-cookie': 'session=abc123' }

/** What undici's fetch throws: a TypeError whose cause carries Node's error code. */
function fetchFailure(code: string, message: string): Error {
  const cause = Object.assign(new Error(message), { code })
  return new TypeError('fetch failed', { cause })
}

const status = (code: number, reason: string, message: string) =>
  new ApiException(
    code,
    'error',
    JSON.stringify({ kind: 'Status', code, reason, message }),
    HEADERS
  )

it.each([
  {
    name: 'a Status body',
    error: status(
      403,
      'Forbidden',
      'leases.coordination.k8s.io "x" is forbidden: User "u" cannot get resource'
    ),
    code: 403,
    reason: 'Forbidden',
    transient: false,
    message: 'get lease: leases.coordination.k8s.io "x" is forbidden: User "u" cannot get resource'
  },
  {
    name: '401 Unauthorized',
    error: status(401, 'Unauthorized', 'Unauthorized'),
    code: 401,
    reason: 'Unauthorized',
    transient: false,
    message: `the Kubernetes API server at ${SERVER} rejected the kubeconfig's credentials (401 Unauthorized): its token or client certificate is invalid or expired; give a kubeconfig with current credentials`
  },
  {
    name: 'a body that is not a Status',
    error: new ApiException(502, 'error', '<html>Bad Gateway</html>', HEADERS),
    code: 502,
    reason: 'HTTP502',
    transient: true,
    message: 'get lease: <html>Bad Gateway</html>'
  },
  {
    name: 'a refused connection',
    error: fetchFailure('ECONNREFUSED', `connect ECONNREFUSED 10.0.0.1:6443`),
    code: 0,
    reason: 'Unreachable',
    transient: true,
    message: `get lease: cannot reach the Kubernetes API server at ${SERVER} (connect ECONNREFUSED 10.0.0.1:6443); check the kubeconfig's server address and that this runner can reach it`
  },
  {
    name: 'an untrusted certificate',
    error: fetchFailure(
      'SELF_SIGNED_CERT_IN_CHAIN',
      'self-signed certificate in certificate chain; if the root CA is installed locally, try running Node.js with --use-system-ca'
    ),
    code: 0,
    reason: 'UntrustedCertificate',
    transient: false,
    message: `the Kubernetes API server at ${SERVER} presented a certificate this runner does not trust (self-signed certificate in certificate chain): put the cluster's CA certificate in the kubeconfig (certificate-authority-data of the cluster)`
  },
  {
    name: 'a certificate for another host',
    error: fetchFailure(
      'ERR_TLS_CERT_ALTNAME_INVALID',
      "Hostname/IP does not match certificate's altnames"
    ),
    code: 0,
    reason: 'UntrustedCertificate',
    transient: false,
    message:
      "does not trust (Hostname/IP does not match certificate's altnames): use a server address the certificate names, or set the cluster's tls-server-name in the kubeconfig"
  },
  {
    name: 'an expired certificate',
    error: fetchFailure('CERT_HAS_EXPIRED', 'certificate has expired'),
    code: 0,
    reason: 'UntrustedCertificate',
    transient: false,
    message:
      "does not trust (certificate has expired): the API server's certificate is outside its validity period: renew it, or check the runner's clock"
  },
  {
    name: 'a timeout',
    error: Object.assign(new Error('signal timed out'), { name: 'TimeoutError' }),
    code: 0,
    reason: 'Unreachable',
    transient: true,
    message: `get lease: the Kubernetes API server at ${SERVER} did not answer in time`
  }
])('reduces $name to its meaning', ({ error, code, reason, transient, message }) => {
  const e = toKubeError(error, 'get lease', SERVER)
  expect({ code: e.code, reason: e.reason, transient: e.transient }).toEqual({
    code,
    reason,
    transient
  })
  expect(e.message).toContain(message)
  expect(e.message).not.toContain('sup3r-secret-token')
  expect(e.message).not.toContain('session=abc123')
})
