"""Device emulators: each speaks one protocol from `drivers` byte for byte, fed by the physics."""
