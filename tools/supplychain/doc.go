// Package supplychain holds the test that runs what pipec's supply-chain
// gates and admission policies rely on, with the real code, offline:
// cosign (as a library) signs an image pushed to an OCI registry on
// loopback with a generated key, and Kyverno's own cosign verifier admits
// it under the ClusterPolicy pipec generates, and refuses an unsigned
// image and one signed with another key. A separate module, so that the
// main module does not link cosign and Kyverno.
package supplychain
