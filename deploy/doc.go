// Package deploy holds Bazgasht's Kubernetes manifests (kustomize/: a base
// and dev and prod overlays) and the tests that render them, and the
// repository's docker-compose.yml, offline: every object must decode
// strictly into its Kubernetes or compose-spec type, and the pieces must
// fit together (probes, secrets, selectors, the pinned NATS version).
package deploy
