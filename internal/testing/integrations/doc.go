// Package integrations holds the tests that run pipec's CI integrations
// with the clients that read them: the pre-commit hooks with pre-commit,
// the GitLab CI template with gitlab-ci-local, the GitHub Action with
// GitHub's own action parser and a runner harness, and the container image
// with podman. Each takes its configuration from the README, so the
// examples users copy are the ones that run.
//
// hack/ci-clients.sh installs the clients; the tests fail, not skip, when
// one is missing.
package integrations
