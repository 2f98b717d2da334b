import { KubeConfig } from '@kubernetes/client-node'
import { inputSecrets, kubeconfigSecrets, transportWarnings } from '../../src/secrets.js'

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: Q0EtaXMtcHVibGlj
users:
- name: deployer
  user:
    token: "eyJhbGciOiJSUzI1NiJ9.payload.signature"
- name: admin
  user:
    client-certificate-data: Q0VSVC1kYXRhLWhlcmU=
    client-key-data: S0VZLWRhdGEtaGVyZQ==
- name: oidc
  user:
    auth-provider:
      name: oidc
      config:
        client-id: kubernetes
        client-secret: oidc-client-secret-value
        id-token: oidc-id-token-value
        refresh-token: oidc-refresh-token-value
- name: cloud
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: get-token
      env:
      - name: API_KEY
        value: exec-env-api-key-value
contexts:
- name: prod
  context: { cluster: prod, user: deployer }
current-context: prod
`

describe('inputSecrets', () => {
  it('finds every credential in the raw inputs, before any validation', () => {
    const inputs: Record<string, string> = {
      kubeconfig: KUBECONFIG,
      'github-token': 'ghs_0123456789abcdef',
      'prometheus-token': 'prom-bearer-token',
      'prometheus-headers': 'X-Scope-OrgID: tenant-a\nX-Api-Key: managed-key-123\nbroken line',
      'prometheus-url': 'https://grafana-user:p%40ss-word@prom.example.com',
      // Not credentials.
      service: 'reviews',
      steps: 'not even valid'
    }
    expect(inputSecrets((name) => inputs[name] ?? '').sort()).toEqual(
      [
        KUBECONFIG.trim(),
        'eyJhbGciOiJSUzI1NiJ9.payload.signature',
        'Q0VSVC1kYXRhLWhlcmU=',
        'S0VZLWRhdGEtaGVyZQ==',
        'oidc-client-secret-value',
        'oidc-id-token-value',
        'oidc-refresh-token-value',
        'ghs_0123456789abcdef',
        'prom-bearer-token',
        'tenant-a',
        'managed-key-123',
        'p%40ss-word',
        'p@ss-word'
      ].sort()
    )
  })

  it('finds nothing when no credential is given, and tolerates a URL that is not one', () => {
    const inputs: Record<string, string> = {
      'prometheus-url': 'prometheus:9090',
      'github-token': ''
    }
    expect(inputSecrets((name) => inputs[name] ?? '')).toEqual([])
  })
})

describe('kubeconfigSecrets', () => {
  it('finds the credentials of every user as client-node reads them', () => {
    const kc = new KubeConfig()
    kc.loadFromString(KUBECONFIG)
    expect(kubeconfigSecrets(kc).sort()).toEqual(
      [
        'eyJhbGciOiJSUzI1NiJ9.payload.signature',
        'Q0VSVC1kYXRhLWhlcmU=',
        'CERT-data-here',
        'S0VZLWRhdGEtaGVyZQ==',
        'KEY-data-here',
        'oidc-client-secret-value',
        'oidc-id-token-value',
        'oidc-refresh-token-value',
        'exec-env-api-key-value'
      ].sort()
    )
  })
})

describe('transportWarnings', () => {
  const verified = { name: 'prod', server: 'https://10.0.0.1:6443', skipTLSVerify: false }
  const none = { prometheusHeaders: {} }
  it.each([
    {
      name: 'https with a token',
      settings: { ...none, prometheusUrl: 'https://p', prometheusToken: 't' },
      cluster: verified,
      warnings: []
    },
    {
      name: 'http without credentials',
      settings: { ...none, prometheusUrl: 'http://p:9090' },
      cluster: verified,
      warnings: []
    },
    { name: 'no kubeconfig cluster', settings: none, cluster: null, warnings: [] },
    {
      name: 'http with a token',
      settings: { ...none, prometheusUrl: 'http://p:9090', prometheusToken: 't' },
      cluster: verified,
      warnings: [
        'Prometheus credentials (prometheus-token, a user and password, or prometheus-headers) go to http://p:9090 in clear text: use https'
      ]
    },
    {
      name: 'http with basic auth',
      settings: {
        ...none,
        prometheusUrl: 'http://p',
        prometheusBasicAuth: { username: 'u', password: 'p' }
      },
      cluster: verified,
      warnings: [expect.stringContaining('go to http://p in clear text')]
    },
    {
      name: 'http with a header',
      settings: { prometheusUrl: 'http://p', prometheusHeaders: { 'X-Scope-OrgID': 'a' } },
      cluster: verified,
      warnings: [expect.stringContaining('go to http://p in clear text')]
    },
    {
      name: 'a cluster without TLS verification',
      settings: none,
      cluster: { ...verified, skipTLSVerify: true },
      warnings: [
        'the kubeconfig turns off TLS verification for cluster prod (insecure-skip-tls-verify): anyone on the path to https://10.0.0.1:6443 can impersonate the API server; give its CA in certificate-authority-data instead'
      ]
    }
  ])('$name', ({ settings, cluster, warnings }) => {
    expect(transportWarnings(settings, cluster)).toEqual(warnings)
  })
})
