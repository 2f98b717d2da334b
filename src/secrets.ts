/**
 * Which values are credentials, so that they are masked (core.setSecret) before anything can print
 * them: first from the raw inputs, before they are even validated (an error message may quote an
 * input), then from the kubeconfig as client-node read it (a KUBECONFIG file is not an input).
 */
import * as core from '@actions/core'
import type { Cluster, KubeConfig } from '@kubernetes/client-node'
import type { InputReader, Settings } from './inputs.js'

/** Kubeconfig keys whose values are credentials, as written in the file. */
const KUBECONFIG_CREDENTIAL =
  /^\s*-?\s*(?:token|client-key-data|client-certificate-data|password|id-token|refresh-token|access-token|client-secret)\s*:\s*["']?([^"'\s]+)/

/** Shorter values are not credentials, and masking them would hide ordinary words in the log. */
const MIN_LENGTH = 6

function keep(values: Array<string | undefined>): string[] {
  return [...new Set(values.map((v) => v?.trim() ?? '').filter((v) => v.length >= MIN_LENGTH))]
}

/** Credentials in the raw inputs: the kubeconfig (whole and each credential in it), tokens, header values, URL passwords. */
export function inputSecrets(read: InputReader): string[] {
  const kubeconfig = read('kubeconfig')
  const headerValues = read('prometheus-headers')
    .split('\n')
    .filter((line) => line.includes(':'))
    .map((line) => line.slice(line.indexOf(':') + 1))
  const passwords: string[] = []
  try {
    // As written in the URL (percent-encoded) and as sent.
    const { password } = new URL(read('prometheus-url').trim())
    passwords.push(password, decodeURIComponent(password))
  } catch {
    // Not a URL (or a malformed escape): the input check says so, without quoting the value.
  }
  return keep([
    kubeconfig,
    ...kubeconfig.split('\n').map((line) => KUBECONFIG_CREDENTIAL.exec(line)?.[1]),
    read('github-token'),
    read('prometheus-token'),
    ...headerValues,
    ...passwords
  ])
}

/** Credentials of every user in a loaded kubeconfig, including auth-provider and exec plugin settings. */
export function kubeconfigSecrets(config: Pick<KubeConfig, 'getUsers'>): string[] {
  return keep(
    config.getUsers().flatMap((user) => {
      const provider = (user.authProvider as { config?: Record<string, unknown> } | undefined)
        ?.config
      const env = (user.exec as { env?: Array<{ value?: unknown }> } | undefined)?.env ?? []
      return [
        user.token,
        user.password,
        // Base64 as in the file, and decoded (PEM), as a library might print it.
        ...[user.keyData, user.certData].flatMap((data) =>
          data ? [data, Buffer.from(data, 'base64').toString('utf8')] : []
        ),
        ...Object.entries(provider ?? {})
          .filter(([key]) => /token|secret|password/i.test(key))
          .map(([, value]) => (typeof value === 'string' ? value : undefined)),
        ...env.map((e) => (typeof e.value === 'string' ? e.value : undefined))
      ]
    })
  )
}

/** Hand every credential in the raw inputs to the runner's masking; the first thing a step does. */
export function maskInputSecrets(read: InputReader): void {
  for (const secret of inputSecrets(read)) core.setSecret(secret)
}

/** Hand the credentials of a loaded kubeconfig (input or KUBECONFIG file) to the runner's masking. */
export function maskKubeconfigSecrets(config: Pick<KubeConfig, 'getUsers'>): void {
  for (const secret of kubeconfigSecrets(config)) core.setSecret(secret)
}

/**
 * Where credentials would travel unprotected: Prometheus credentials over plain http, or an API
 * server whose certificate the kubeconfig says not to verify.
 */
export function transportWarnings(
  settings: Pick<
    Settings,
    'prometheusUrl' | 'prometheusToken' | 'prometheusBasicAuth' | 'prometheusHeaders'
  >,
  cluster: Pick<Cluster, 'name' | 'server' | 'skipTLSVerify'> | null
): string[] {
  const warnings: string[] = []
  const sendsCredentials =
    settings.prometheusToken !== undefined ||
    settings.prometheusBasicAuth !== undefined ||
    Object.keys(settings.prometheusHeaders).length > 0
  if (sendsCredentials && settings.prometheusUrl?.startsWith('http://')) {
    warnings.push(
      `Prometheus credentials (prometheus-token, a user and password, or prometheus-headers) go to ${settings.prometheusUrl} in clear text: use https`
    )
  }
  if (cluster?.skipTLSVerify) {
    warnings.push(
      `the kubeconfig turns off TLS verification for cluster ${cluster.name} (insecure-skip-tls-verify): anyone on the path to ${cluster.server} can impersonate the API server; give its CA in certificate-authority-data instead`
    )
  }
  return warnings
}
