"""Events published by place names and door plates (区划地名). The domain's issue adds them; none are published yet."""
