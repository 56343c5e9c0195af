package consistency_test

import (
	"errors"
	"fmt"

	"github.com/raftkit/raftkit/consistency"
)

func ExampleParseLevel() {
	level, err := consistency.ParseLevel("Lease")
	fmt.Println(level, err)

	_, err = consistency.ParseLevel("eventual")
	fmt.Println(errors.Is(err, consistency.ErrUnknownLevel))
	fmt.Println(err)

	var zero consistency.Level
	fmt.Println("default:", zero)
	// Output:
	// lease <nil>
	// true
	// consistency: unknown read level: "eventual" (valid: strong, lease, stale)
	// default: strong
}
