package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// maxBatch is the most events ingest takes in one batch.
const maxBatch = 1000

// send posts events to the ingest API: one object, an array, or
// {"events":[...]}, from a file, stdin (-) or the argument itself.
func send(e *env, args []string) error {
	args, err := e.flags("send", args, nil)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return usagef("give one FILE, - for stdin, or the event's JSON")
	}
	if e.apiKey == "" {
		return usagef("no API key: set -key or BAZGASHT_API_KEY")
	}
	var data []byte
	switch a := args[0]; {
	case a == "-":
		data, err = io.ReadAll(e.in)
	case strings.HasPrefix(strings.TrimSpace(a), "{") || strings.HasPrefix(strings.TrimSpace(a), "["):
		data = []byte(a)
	default:
		data, err = os.ReadFile(a)
	}
	if err != nil {
		return err
	}
	events, err := splitEvents(data)
	if err != nil {
		return usagef("%v", err)
	}
	type outcome struct {
		Index  int    `json:"index"`
		ID     string `json:"id,omitempty"`
		Status string `json:"status"`
		Errors []struct {
			Field  string `json:"field"`
			Reason string `json:"reason"`
		} `json:"errors,omitempty"`
	}
	var all []outcome
	client := &http.Client{Timeout: 30 * time.Second}
	for start := 0; start < len(events); start += maxBatch {
		chunk := events[start:min(start+maxBatch, len(events))]
		body, _ := json.Marshal(map[string]any{"events": chunk})
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, strings.TrimRight(e.api, "/")+"/v1/events:batch", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.apiKey)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("ingest at %s: %w", e.api, err)
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ingest answered %s: %s", resp.Status, strings.TrimSpace(string(answer)))
		}
		var batch struct {
			Results []outcome `json:"results"`
		}
		if err := json.Unmarshal(answer, &batch); err != nil {
			return fmt.Errorf("ingest's answer: %w", err)
		}
		for _, o := range batch.Results {
			o.Index += start
			all = append(all, o)
		}
	}
	rejected := 0
	rows := make([][]string, 0, len(all))
	for _, o := range all {
		var why []string
		for _, fe := range o.Errors {
			why = append(why, fe.Field+": "+fe.Reason)
		}
		if o.Status == "rejected" || o.Status == "unavailable" {
			rejected++
		}
		rows = append(rows, []string{fmt.Sprint(o.Index), o.ID, o.Status, strings.Join(why, "; ")})
	}
	if e.json {
		b, _ := json.MarshalIndent(all, "", "  ")
		fmt.Fprintln(e.out, string(b))
	} else {
		e.table([]string{"#", "ID", "STATUS", "WHY"}, rows)
	}
	if rejected > 0 {
		return fmt.Errorf("%d of %d events not stored", rejected, len(all))
	}
	return nil
}

// splitEvents accepts one event, an array of events or {"events":[...]}.
func splitEvents(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("no events given")
	}
	if data[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("not a JSON array of events: %v", err)
		}
		return list, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if evs, ok := obj["events"]; ok && len(obj) == 1 {
		return splitEvents(evs)
	}
	return []json.RawMessage{data}, nil
}
