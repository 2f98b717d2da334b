/**
 * A CA certificate that trusts nothing the tests serve: made for these tests with
 * `openssl req -x509` (P-256, valid to 2126), its private key discarded at once, so nothing can
 * ever be signed with it. Use it as the wrong `prometheus-ca`, or as a second block of a bundle.
 */
export const OTHER_CA_CERT = `-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUQ73cTo3r4d3EATu+yCfWXSTGpOkwCgYIKoZIzj0EAwIw
KDEmMCQGA1UEAwwdaXN0aW8tYmx1ZWdyZWVuLXRlc3Qtb3RoZXItY2EwIBcNMjYx
MTI1MDk0MzIzWhgPMjEyNjExMDEwOTQzMjNaMCgxJjAkBgNVBAMMHWlzdGlvLWJs
dWVncmVlbi10ZXN0LW90aGVyLWNhMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE
3w8H4Ytskild4dWg39BI+wtfcwuVETQJku4pt3Eh8m2KI66jKxz5MQLNxc2Mt1NS
Ywpw8MgiZGknmOW+VzWf9aNTMFEwHQYDVR0OBBYEFEdSrykybnCOy4FACHJGnXB0
jGtiMB8GA1UdIwQYMBaAFEdSrykybnCOy4FACHJGnXB0jGtiMA8GA1UdEwEB/wQF
MAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIhAONGh9Uf7r0CB0TkvkgZ2BBnkHi7yFsp
I7qIQWq+j3FeAiBJTlXW3BCEBGoDVWk9vPnrWgMSL7IrHp29KYqiqrQs0Q==
-----END CERTIFICATE-----
`
