package main

import (
	"os"
	"strings"
	"testing"
)

// TestDeploymentNginxExampleIsTheTestedOne keeps docs/deployment.md's nginx
// configuration the one TestReplicasBehindNginx runs.
func TestDeploymentNginxExampleIsTheTestedOne(t *testing.T) {
	doc, err := os.ReadFile("../../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, found := strings.Cut(string(doc), "```nginx\n")
	if !found {
		t.Fatal("docs/deployment.md has no ```nginx example")
	}
	block, _, _ = strings.Cut(block, "```")
	example, err := os.ReadFile("testdata/nginx-replicas.conf")
	if err != nil {
		t.Fatal(err)
	}
	if block != string(example) {
		t.Error("docs/deployment.md's nginx example differs from cmd/tokencache/testdata/nginx-replicas.conf, which the replicas test runs")
	}
}
