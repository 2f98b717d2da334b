/**
 * Which requests to the Kubernetes API may share connections: a plain function of the
 * kubeconfig's cluster and user and of the request's Authorization header (the Kube adapter keeps
 * one connection pool per key).
 */

/** The kubeconfig cluster fields that make a TLS connection what it is. */
export interface ConnectionCluster {
  server: string
  caData?: string
  caFile?: string
  tlsServerName?: string
  skipTLSVerify?: boolean
  proxyUrl?: string
}

/** The kubeconfig user fields that make a TLS connection what it is, and its plugins. */
export interface ConnectionUser {
  certData?: string
  certFile?: string
  keyData?: string
  keyFile?: string
  /** An exec credential plugin (client-go's `exec`), whatever its settings. */
  exec?: unknown
  /** An auth provider (oidc, gcp, azure), whatever its settings. */
  authProvider?: unknown
}

/**
 * The key of the connections a request may share with the others with the same key: the
 * server, the CA, the client certificate and the Authorization header. undefined when it must
 * have a connection of its own: an exec or auth-provider credential without a token may be a
 * client certificate that the plugin renews, which only a new connection would present.
 */
export function connectionKey(
  cluster: ConnectionCluster | null,
  user: ConnectionUser | null,
  authorization: string | undefined
): string | undefined {
  if ((user?.exec || user?.authProvider) && !authorization) return undefined
  return JSON.stringify([
    cluster?.server,
    cluster?.caData,
    cluster?.caFile,
    cluster?.tlsServerName,
    cluster?.skipTLSVerify,
    cluster?.proxyUrl,
    user?.certData,
    user?.certFile,
    user?.keyData,
    user?.keyFile,
    authorization
  ])
}
