package app

import (
	"testing"
	"time"
)

func TestConfigCreationTimeout(t *testing.T) {
	tests := []struct {
		name    string
		set     time.Duration
		want    time.Duration
		wantErr bool
	}{
		{"ZeroTakesTheDefault", 0, DefaultCreationTimeout, false},
		{"SetIsKept", 3 * time.Second, 3 * time.Second, false},
		{"NegativeIsRefused", -time.Second, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Config{CreationTimeout: tt.set}.withDefaults()
			if tt.wantErr {
				if err == nil {
					t.Fatal("withDefaults accepted it")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.CreationTimeout != tt.want {
				t.Fatalf("CreationTimeout = %v, want %v", cfg.CreationTimeout, tt.want)
			}
			svc, cleanup, err := InitializeInMemory(Config{CreationTimeout: tt.set})
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			if svc.creationTimeout != tt.want {
				t.Fatalf("the service's creation timeout = %v, want %v", svc.creationTimeout, tt.want)
			}
		})
	}
}
