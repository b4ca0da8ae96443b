/** Commander's collector for an option given more than once (`-e A=1 -e B=2`). */
export const repeatable = (value: string, previous: string[] = []): string[] => [...previous, value];
