// Package journey holds the rules of the journey-event contract that every
// service shares: the known event types, subjects and message ids, and the
// validation that names the field at fault.
package journey

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

// TypeInfo describes a known event type.
type TypeInfo struct {
	// Name is the dotted type, such as "order.placed".
	Name string
	// Payload is the JourneyEvent oneof field that carries its body.
	Payload protoreflect.FieldDescriptor
	// Catalog types are about the shop's catalog and carry no customer.
	Catalog bool
	// Internal types are produced by Bazgasht's own services; shops cannot
	// publish them.
	Internal bool
}

// internalPrefixes are the type families only Bazgasht's services publish.
var internalPrefixes = []string{"survey.invited", "notification.", "trigger.", "task.", "segment."}

var known = func() map[string]TypeInfo {
	m := map[string]TypeInfo{}
	oneof := (&journeyv1.JourneyEvent{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")
	for i := 0; i < oneof.Fields().Len(); i++ {
		fd := oneof.Fields().Get(i)
		// The payload field order_placed carries type order.placed: the first
		// underscore of the field name is the type's dot.
		name := strings.Replace(string(fd.Name()), "_", ".", 1)
		info := TypeInfo{Name: name, Payload: fd, Catalog: name == "product.back_in_stock"}
		for _, p := range internalPrefixes {
			if strings.HasPrefix(name, p) {
				info.Internal = true
			}
		}
		m[name] = info
	}
	return m
}()

// Lookup returns the known type named name.
func Lookup(name string) (TypeInfo, bool) {
	t, ok := known[name]
	return t, ok
}

// KnownTypes lists the known type names, sorted.
func KnownTypes() []string {
	names := make([]string, 0, len(known))
	for n := range known {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

var (
	tenantRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	typeRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$`)
)

// CheckTenant reports whether s can name a tenant: lower-case letters,
// digits, '-' and '_', at most 63, because it is a NATS subject token.
func CheckTenant(s string) error {
	if !tenantRE.MatchString(s) {
		return fmt.Errorf("tenant %q must be 1-63 lower-case letters, digits, '-' or '_', starting with a letter or digit", s)
	}
	return nil
}

// Subject is the subject an event of type typ of tenant is published on.
func Subject(tenant, typ string) string {
	return "cx." + tenant + ".journey." + typ
}

// MsgID is the JetStream deduplication id of event id of tenant.
func MsgID(tenant, id string) string {
	return tenant + ":" + id
}
