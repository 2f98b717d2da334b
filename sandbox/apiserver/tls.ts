/**
 * A self-signed certificate for 127.0.0.1 and localhost (valid 2000-2126), so kubectl can reach
 * the sandbox: client-go only sends a bearer token over TLS. This key protects nothing; it exists
 * for loopback tests and is public on purpose. Clients trust it through `caData`.
 */
export const SANDBOX_CERT = `-----BEGIN CERTIFICATE-----
MIIBpzCCAU6gAwIBAgIBATAKBggqhkjOPQQDAjAiMSAwHgYDVQQDDBdpc3Rpby1i
bHVlZ3JlZW4tc2FuZGJveDAgFw0wMDAxMDEwMDAwMDBaGA8yMTI2MDEwMTAwMDAw
MFowIjEgMB4GA1UEAwwXaXN0aW8tYmx1ZWdyZWVuLXNhbmRib3gwWTATBgcqhkjO
PQIBBggqhkjOPQMBBwNCAARQAASXLW9gdrTOxJGtZfg8BOgs7rkg/9nyuvzdtwQZ
9zsG0XjBCGI053mnBzwkWwLbjeUeby5eBSV0TEuL4YDpo3MwcTAaBgNVHREEEzAR
hwR/AAABgglsb2NhbGhvc3QwDwYDVR0TAQH/BAUwAwEB/zAOBgNVHQ8BAf8EBAMC
AoQwEwYDVR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFEDOfYOtrOPa7DPbmwLT
frdewJAlMAoGCCqGSM49BAMCA0cAMEQCIFBKoSdjoxVvNRx+PYm+qDiF739CcVkZ
1rslgX2cNNCbAiBt93wErIGfTfv1awfZng+E+DnZDHqNlrlpLqU8b0qB8A==
-----END CERTIFICATE-----
`

export const SANDBOX_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgTbfnRTK4kllU0Wql
6+w4ODIZWGhuOp7yKn4S+GHUjYihRANCAARQAASXLW9gdrTOxJGtZfg8BOgs7rkg
/9nyuvzdtwQZ9zsG0XjBCGI053mnBzwkWwLbjeUeby5eBSV0TEuL4YDp
-----END PRIVATE KEY-----
`
