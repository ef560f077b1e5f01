"""The journey tracker: how far each one-thing (一件事) workflow got, projected from the events it caused."""
