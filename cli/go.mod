module github.com/bazgasht/bazgasht/cli

go 1.26.0

require (
	github.com/bazgasht/bazgasht/gen v0.0.0
	github.com/bazgasht/bazgasht/platform v0.0.0
	github.com/nats-io/nats.go v1.55.0
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/yaa110/go-persian-calendar v1.3.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.60.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260928230214-8a89bd6388cc // indirect
)

replace (
	github.com/bazgasht/bazgasht/gen => ../gen
	github.com/bazgasht/bazgasht/platform => ../platform
)
