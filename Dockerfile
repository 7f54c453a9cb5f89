# lakesync API and worker image (the same image runs either role).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --include=dev --ignore-scripts=false
COPY . .
USER node
EXPOSE 8080
CMD ["npm", "start"]
