package journey

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

// DecodeJSON reads one event in its JSON form (protojson: snake_case or
// lowerCamelCase names, enums by name, 64-bit integers as strings or
// numbers, timestamps in RFC 3339). Unknown fields and wrong types are
// reported with the path of the field at fault, not protojson's offsets.
//
// The body is decoded once, by protojson; only a body protojson refuses is
// walked again to say which field is at fault, so valid events (nearly all
// of them) pay for one parse.
func DecodeJSON(data []byte) (*journeyv1.JourneyEvent, Errors) {
	ev := &journeyv1.JourneyEvent{}
	err := protojson.Unmarshal(data, ev)
	if err == nil {
		return ev, nil
	}
	if errs := explain(data); len(errs) > 0 {
		return nil, errs
	}
	return nil, Errors{{Reason: err.Error()}}
}

// explain walks a body protojson refused and names what is wrong with it.
func explain(data []byte) Errors {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return Errors{{Reason: "body is not valid JSON: " + err.Error()}}
	}
	if dec.More() {
		return Errors{{Reason: "body holds more than one JSON value; send one event, or use the batch endpoint"}}
	}
	var errs Errors
	checkMessage(&errs, "", raw, (&journeyv1.JourneyEvent{}).ProtoReflect().Descriptor())
	return errs
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

func checkMessage(errs *Errors, path string, v any, md protoreflect.MessageDescriptor) {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		s, ok := v.(string)
		if !ok {
			errs.add(path, "must be an RFC 3339 timestamp string such as \"2026-11-25T10:00:00Z\", not %s", jsonType(v))
			return
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			errs.add(path, "%q is not an RFC 3339 timestamp such as \"2026-11-25T10:00:00Z\" (with a time zone)", s)
		}
		return
	case "google.protobuf.Struct":
		if _, ok := v.(map[string]any); !ok {
			errs.add(path, "must be an object, not %s", jsonType(v))
		}
		return
	case "google.protobuf.Value":
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		errs.add(path, "must be an object, not %s", jsonType(v))
		return
	}
	oneofs := map[protoreflect.FullName]string{}
	fields := md.Fields()
	for _, k := range sortedKeys(obj) {
		val := obj[k]
		fd := fields.ByJSONName(k)
		if fd == nil {
			fd = fields.ByTextName(k)
		}
		p := join(path, k)
		if fd == nil {
			errs.add(p, "is not a field of %s", md.Name())
			continue
		}
		if val == nil {
			continue
		}
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
			if other, dup := oneofs[o.FullName()]; dup {
				errs.add(p, "cannot be sent together with %s: an event has one %s", other, o.Name())
			}
			oneofs[o.FullName()] = k
		}
		checkField(errs, p, val, fd)
	}
}

func checkField(errs *Errors, path string, v any, fd protoreflect.FieldDescriptor) {
	switch {
	case fd.IsMap():
		obj, ok := v.(map[string]any)
		if !ok {
			errs.add(path, "must be an object, not %s", jsonType(v))
			return
		}
		for _, k := range sortedKeys(obj) {
			checkSingular(errs, join(path, k), obj[k], fd.MapValue())
		}
	case fd.IsList():
		arr, ok := v.([]any)
		if !ok {
			errs.add(path, "must be an array, not %s", jsonType(v))
			return
		}
		for i, val := range arr {
			checkSingular(errs, fmt.Sprintf("%s[%d]", path, i), val, fd)
		}
	default:
		checkSingular(errs, path, v, fd)
	}
}

func checkSingular(errs *Errors, path string, v any, fd protoreflect.FieldDescriptor) {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		checkMessage(errs, path, v, fd.Message())
	case protoreflect.StringKind:
		if _, ok := v.(string); !ok {
			errs.add(path, "must be a string, not %s", jsonType(v))
		}
	case protoreflect.BoolKind:
		if _, ok := v.(bool); !ok {
			errs.add(path, "must be true or false, not %s", jsonType(v))
		}
	case protoreflect.EnumKind:
		switch x := v.(type) {
		case string:
			if fd.Enum().Values().ByName(protoreflect.Name(x)) == nil {
				errs.add(path, "%q is not one of %s", x, enumNames(fd.Enum()))
			}
		case json.Number:
			if _, err := x.Int64(); err != nil {
				errs.add(path, "must be one of %s", enumNames(fd.Enum()))
			}
		default:
			errs.add(path, "must be one of %s, not %s", enumNames(fd.Enum()), jsonType(v))
		}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		checkInt(errs, path, v, 32, true)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		checkInt(errs, path, v, 32, false)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		checkInt(errs, path, v, 64, true)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		checkInt(errs, path, v, 64, false)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		switch x := v.(type) {
		case json.Number:
		case string:
			if _, err := strconv.ParseFloat(x, 64); err != nil && x != "NaN" && x != "Infinity" && x != "-Infinity" {
				errs.add(path, "%q is not a number", x)
			}
		default:
			errs.add(path, "must be a number, not %s", jsonType(v))
		}
	case protoreflect.BytesKind:
		s, ok := v.(string)
		if !ok {
			errs.add(path, "must be a base64 string, not %s", jsonType(v))
		} else if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			if _, err := base64.URLEncoding.DecodeString(s); err != nil {
				errs.add(path, "is not base64")
			}
		}
	}
}

func checkInt(errs *Errors, path string, v any, bits int, signed bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		errs.add(path, "must be a whole number, not %s", jsonType(v))
		return
	}
	var err error
	if signed {
		_, err = strconv.ParseInt(s, 10, bits)
	} else {
		_, err = strconv.ParseUint(s, 10, bits)
	}
	if err != nil {
		errs.add(path, "%s is not a whole number that fits in %d bits", s, bits)
	}
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	var b bytes.Buffer
	vals := ed.Values()
	for i := 0; i < vals.Len(); i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(vals.Get(i).Name()))
	}
	return b.String()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
