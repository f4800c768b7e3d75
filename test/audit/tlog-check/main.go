// Command tlog-check is an independent verifier of reefer-edge's audit log, written against the
// specifications (RFC 6962, C2SP signed-note and tlog-checkpoint) with Go's own implementation
// of them, golang.org/x/mod/sumdb/tlog and note, and none of the project's code. It reads one
// JSON case on stdin and writes what it found on stdout; test/audit/go-verifier.test.ts drives it.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type proofCase struct {
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Older int64    `json:"older"`
	Newer int64    `json:"newer"`
	Proof []string `json:"proof"`
}

type input struct {
	VerifierKey string      `json:"vkey"`
	Notes       []string    `json:"notes"`
	Leaves      []string    `json:"leaves"`
	Inclusion   []proofCase `json:"inclusion"`
	Consistency []proofCase `json:"consistency"`
}

type checkpointResult struct {
	Error       string `json:"error,omitempty"`
	Origin      string `json:"origin,omitempty"`
	Size        int64  `json:"size"`
	RootMatches bool   `json:"rootMatches"`
}

type output struct {
	Checkpoints []checkpointResult `json:"checkpoints"`
	Inclusion   []string           `json:"inclusion"`
	Consistency []string           `json:"consistency"`
	Roots       map[string]string  `json:"roots"`
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail("reading the case: %v", err)
	}
	verifier, err := note.NewVerifier(in.VerifierKey)
	if err != nil {
		fail("the verifier key: %v", err)
	}

	// The log as tlog stores it: every leaf's record hash and the interior hashes it completes.
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, index := range indexes {
			if index < 0 || index >= int64(len(stored)) {
				return nil, fmt.Errorf("hash %d not stored", index)
			}
			out[i] = stored[index]
		}
		return out, nil
	})
	for n, leaf := range in.Leaves {
		data := decode(leaf)
		hashes, err := tlog.StoredHashes(int64(n), data, reader)
		if err != nil {
			fail("storing leaf %d: %v", n, err)
		}
		stored = append(stored, hashes...)
	}
	treeHash := func(size int64) tlog.Hash {
		h, err := tlog.TreeHash(size, reader)
		if err != nil {
			fail("tree hash of %d: %v", size, err)
		}
		return h
	}

	out := output{Roots: map[string]string{}}
	for size := int64(1); size <= int64(len(in.Leaves)); size++ {
		h := treeHash(size)
		out.Roots[strconv.FormatInt(size, 10)] = base64.StdEncoding.EncodeToString(h[:])
	}
	for _, text := range in.Notes {
		out.Checkpoints = append(out.Checkpoints, checkCheckpoint(text, verifier, treeHash, int64(len(in.Leaves))))
	}
	for _, c := range in.Inclusion {
		proof := tlog.RecordProof(hashes(c.Proof))
		leaf := tlog.RecordHash(decode(in.Leaves[c.Index]))
		out.Inclusion = append(out.Inclusion, verdict(tlog.CheckRecord(proof, c.Size, treeHash(c.Size), c.Index, leaf)))
	}
	for _, c := range in.Consistency {
		proof := tlog.TreeProof(hashes(c.Proof))
		out.Consistency = append(out.Consistency, verdict(tlog.CheckTree(proof, c.Newer, treeHash(c.Newer), c.Older, treeHash(c.Older))))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fail("writing the result: %v", err)
	}
}

// checkCheckpoint opens a signed checkpoint with note.Open and compares its root with the tree
// hash tlog computes over the leaves, where the case holds that many.
func checkCheckpoint(text string, verifier note.Verifier, treeHash func(int64) tlog.Hash, leaves int64) checkpointResult {
	n, err := note.Open([]byte(text), note.VerifierList(verifier))
	if err != nil {
		return checkpointResult{Error: err.Error()}
	}
	// C2SP tlog-checkpoint: origin, tree size, base64 root hash, then optional extension lines.
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpointResult{Error: "a checkpoint has three lines at least"}
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 {
		return checkpointResult{Error: "bad tree size " + lines[1]}
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return checkpointResult{Error: "bad root hash " + lines[2]}
	}
	result := checkpointResult{Origin: lines[0], Size: size}
	if size > 0 && size <= leaves {
		h := treeHash(size)
		result.RootMatches = string(h[:]) == string(root)
	}
	return result
}

func hashes(encoded []string) []tlog.Hash {
	out := make([]tlog.Hash, len(encoded))
	for i, e := range encoded {
		copy(out[i][:], decode(e))
	}
	return out
}

func decode(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		fail("base64 %q: %v", s, err)
	}
	return b
}

func verdict(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tlog-check: "+format+"\n", args...)
	os.Exit(2)
}
