// Package e2e drives a customer's journey through all five Bazgasht
// services, each its own process built from this repository, over the
// pinned nats-server and a real Redis: the shop's events in, the profile,
// the rules, the survey SMS and its answer, the follow-up task, the
// win-back, and duplicates that change nothing.
package e2e
