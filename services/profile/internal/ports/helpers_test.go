package ports_test

import (
	"google.golang.org/protobuf/proto"

	journeyv1 "github.com/bazgasht/bazgasht/gen/cx/journey/v1"
)

func protoUnmarshal(b []byte, e *journeyv1.JourneyEvent) error { return proto.Unmarshal(b, e) }

func protoMarshal(e *journeyv1.JourneyEvent) ([]byte, error) { return proto.Marshal(e) }
